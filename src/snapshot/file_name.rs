//! Table names to file names.
//!
//! `<schema>.<table>.tsv`, where each part keeps lowercase ASCII letters, digits and `_` and
//! writes every other byte as `%XX` (uppercase hex of its UTF-8 bytes). So `public.Order`
//! becomes `public.%4Frder.tsv` next to `public.order.tsv` — distinct even on a case-insensitive
//! file system — and `a/b` or `../x` can never leave the snapshot directory. Overlong names are
//! cut and given a hash suffix, keeping them unique and under common file-name limits.

use sha2::{Digest, Sha256};

use crate::catalog::QualifiedName;

const MAX_FILE_NAME: usize = 200;

pub fn file_name(table: &QualifiedName) -> String {
    let name = format!("{}.{}.tsv", encode(&table.schema), encode(&table.name));
    if name.len() <= MAX_FILE_NAME {
        return name;
    }
    let digest = Sha256::digest(format!("{}\0{}", table.schema, table.name).as_bytes());
    let mut cut = MAX_FILE_NAME - 4 - 17;
    // Never cut inside a %XX sequence.
    while name.as_bytes()[..cut].ends_with(b"%") || name.as_bytes()[..cut - 1].ends_with(b"%") {
        cut -= 1;
    }
    format!("{}~{}.tsv", &name[..cut], &super::hex(&digest)[..16])
}

fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for &b in part.as_bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// True for names this module could have produced: one plain file inside the directory.
pub fn is_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.ends_with(".tsv")
        && !name.starts_with('.')
        && name.bytes().all(
            |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'%' | b'A'..=b'F' | b'.' | b'~'),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(schema: &str, table: &str) -> String {
        file_name(&QualifiedName::new(schema, table))
    }

    #[test]
    fn readable_for_plain_names() {
        assert_eq!(name("public", "users"), "public.users.tsv");
        assert_eq!(name("app", "content_tags"), "app.content_tags.tsv");
    }

    #[test]
    fn hostile_names_stay_inside_and_distinct() {
        let hostile = [
            name("public", "a/b"),
            name("public", "../x"),
            name("public", "Order"),
            name("public", "order"),
            name("public", "a.b"),
            name("public.a", "b"),
            name("public", ".."),
            name("public", "ünï"),
        ];
        for n in &hostile {
            assert!(!n.contains('/'), "{n}");
            assert!(is_safe(n), "{n}");
        }
        let mut lower: Vec<String> = hostile.iter().map(|n| n.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), hostile.len(), "unique even ignoring case");
        assert_eq!(name("public", "Order"), "public.%4Frder.tsv");
    }

    #[test]
    fn long_names_are_cut_uniquely() {
        let a = name(&"S".repeat(63), &"é".repeat(31));
        let b = name(&"S".repeat(63), &format!("{}x", "é".repeat(30)));
        assert!(a.len() <= MAX_FILE_NAME && b.len() <= MAX_FILE_NAME);
        assert_ne!(a, b);
        assert!(is_safe(&a));
    }
}
