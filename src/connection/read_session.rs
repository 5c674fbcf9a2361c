//! [`ReadSession`]: what the export reads through a session, as a trait object, so that the
//! export's own transaction and its parallel readers (`crate::readers`) can be handed the same
//! work on different threads.

use postgres::{CopyOutReader, GenericClient, SimpleQueryMessage};

/// What the export reads through a session, the export's transaction or a reader: a
/// `COPY … TO STDOUT`, or a batch of statements in the simple protocol.
pub trait ReadSession {
    fn copy_out_text(&mut self, sql: &str) -> Result<CopyOutReader<'_>, postgres::Error>;
    fn simple_query_text(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, postgres::Error>;
}

impl<C: GenericClient> ReadSession for C {
    fn copy_out_text(&mut self, sql: &str) -> Result<CopyOutReader<'_>, postgres::Error> {
        self.copy_out(sql)
    }
    fn simple_query_text(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, postgres::Error> {
        self.simple_query(sql)
    }
}
