//! Sources enumerate blobs and their origins and hand them to the [`Scanner`](crate::scan::Scanner).
//! They know nothing of rules or output.

pub mod dir;
pub mod git;
pub mod staged;
pub mod stdin;
