//! The text of commits and annotated tags: their messages are scanned like files, and their
//! findings point at the commit or tag.

use gix::ObjectId;

use super::{attribution, Run};
use crate::finding::{Finding, Origin};
use crate::scan::Scratch;

impl Run<'_> {
    /// Scans a commit's message (subject and body, line 1 = subject).
    pub(super) fn scan_commit_message(&self, id: &ObjectId, data: &[u8], scratch: &mut Scratch) {
        let Ok(commit) = gix::objs::CommitRef::from_bytes(data, id.kind()) else {
            return;
        };
        let found = self.scan_text(commit.message, "commit-message", scratch);
        if found.is_empty() {
            return;
        }
        let info = attribution::commit_info(&commit);
        for mut f in found {
            f.origin = Origin {
                commit: Some(id.to_string()),
                author: info.as_ref().map(|i| i.author.clone()),
                email: info.as_ref().map(|i| i.email.clone()),
                date: info.as_ref().map(|i| i.date.clone()),
                ..self.base_origin("commit-message")
            };
            self.collector.push(f);
        }
    }

    pub(super) fn scan_tag_message(
        &self,
        repo: &gix::Repository,
        id: &ObjectId,
        scratch: &mut Scratch,
    ) {
        let mut buf = Vec::new();
        let data = match gix::objs::Find::try_find(&repo.objects, id, &mut buf) {
            Ok(Some(d)) => d,
            Ok(None) => return self.error(format!("git: tag {id} is missing")),
            Err(e) => return self.error(format!("git: cannot read tag {id}: {e:#}")),
        };
        let Ok(tag) = gix::objs::TagRef::from_bytes(data.data, data.object_hash) else {
            return self.error(format!("git: cannot decode tag {id}"));
        };
        for mut f in self.scan_text(tag.message, "tag-message", scratch) {
            f.origin = Origin {
                commit: Some(id.to_string()),
                path: Some(format!("refs/tags/{}", tag.name)),
                ..self.base_origin("tag-message")
            };
            self.collector.push(f);
        }
    }

    /// `source` names what the text is, which the scanner's counts go by (blobs vs messages).
    fn scan_text(&self, text: &[u8], source: &str, scratch: &mut Scratch) -> Vec<Finding> {
        let mut found = Vec::new();
        self.scanner
            .scan_bytes(text, &Origin::new(source), scratch, &mut |f| found.push(f));
        found
    }
}
