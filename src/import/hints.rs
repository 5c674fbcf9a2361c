//! Hints for a target that lacks a snapshot's table or column: dropped, or renamed (names close
//! to the missing one), and how to leave it out explicitly.

/// The edit distance between two names (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Candidates close to `name` (a rename is likely): within a third of its length in edits (at
/// least one), or one containing the other; closest first, at most three.
pub fn close_names<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut close: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name)
        .filter_map(|c| {
            let other = c.to_lowercase();
            let d = distance(&lower, &other);
            let contains = other.len() >= 3
                && lower.len() >= 3
                && (other.contains(&lower) || lower.contains(&other));
            (d <= limit || contains).then_some((d, c))
        })
        .collect();
    close.sort();
    close
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// ` (renamed? the target has a, b)` or nothing.
pub fn renamed_hint(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; renamed? the target has {}", close.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_find_renames_not_strangers() {
        assert_eq!(distance("kitten", "sitting"), 3);
        let candidates = ["resolution_px", "title", "duration", "resolutoin"];
        assert_eq!(
            close_names("resolution", candidates),
            vec!["resolutoin".to_string(), "resolution_px".to_string()]
        );
        assert!(close_names("id", ["name", "email"]).is_empty());
        assert_eq!(renamed_hint(&[]), "");
        assert_eq!(
            renamed_hint(&["a".into(), "b".into()]),
            "; renamed? the target has a, b"
        );
    }
}
