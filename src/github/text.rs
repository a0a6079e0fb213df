//! The texts an issue, comment, pull request, review or release event carries, where each
//! kind keeps them in its payload, and the path and link their findings get.

use std::borrow::Cow;

use serde_json::Value;

use super::client::Client;
use super::handler::Kind;
use crate::messages::Messages;

/// Actions whose event carries new or changed text. Other actions (closed, labeled, assigned…)
/// repeat text already scanned when it was written.
const TEXT_ACTIONS: &[&str] = &[
    "opened",
    "edited",
    "created",
    "published",
    "submitted",
    "prereleased",
    "released",
];

/// Where the text of a text-carrying event is: the payload's object, its text fields, and the
/// path its findings are given (`issues/12`, `pulls/7/reviews/3`, …).
struct TextSource {
    object: &'static str,
    fields: &'static [&'static str],
    path: String,
}

/// One text of an event, ready to scan.
pub struct Text {
    pub path: String,
    pub url: Option<String>,
    pub text: String,
}

/// The text bodies an issue, comment, pull request, review or release event carries. A
/// body GitHub trimmed from the payload is fetched from the object's API URL.
pub fn texts(client: &Client, messages: &Messages, kind: Kind, p: &Value) -> Vec<Text> {
    let action = p.get("action").and_then(Value::as_str);
    if action.is_some_and(|a| !TEXT_ACTIONS.contains(&a)) {
        return Vec::new();
    }
    let Some(source) = text_source(kind, p) else {
        return Vec::new();
    };
    let Some(obj) = p.get(source.object) else {
        return Vec::new();
    };
    let obj = untrimmed(client, messages, obj, &source);
    let url = obj
        .get("html_url")
        .and_then(Value::as_str)
        .map(str::to_string);
    source
        .fields
        .iter()
        .filter_map(|f| obj.get(*f).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .map(|t| Text {
            path: source.path.clone(),
            url: url.clone(),
            text: t.to_string(),
        })
        .collect()
}

/// `obj` with all of `source`'s fields: as it is when it has them, else fetched from its API
/// URL (GitHub trims event payloads, e.g. pull request bodies since October 2025).
fn untrimmed<'v>(
    client: &Client,
    messages: &Messages,
    obj: &'v Value,
    source: &TextSource,
) -> Cow<'v, Value> {
    if source.fields.iter().all(|f| obj.get(*f).is_some()) {
        return Cow::Borrowed(obj);
    }
    let Some(url) = obj.get("url").and_then(Value::as_str) else {
        return Cow::Borrowed(obj);
    };
    match client.send(url, None).and_then(|r| r.json(url)) {
        Ok(full) => Cow::Owned(full),
        Err(e) => {
            messages.error(format_args!(
                "cannot fetch the text of {}: {e}",
                source.path
            ));
            Cow::Borrowed(obj)
        }
    }
}

/// Where the text of an event of `kind` is in its payload `p`; `None` for kinds without text.
fn text_source(kind: Kind, p: &Value) -> Option<TextSource> {
    // A payload that lacks what names the object still yields its text, under a `?`.
    let number = |pointer: &str| {
        p.pointer(pointer)
            .and_then(Value::as_u64)
            .map_or_else(|| "?".to_string(), |n| n.to_string())
    };
    let text = |pointer: &str| p.pointer(pointer).and_then(Value::as_str).unwrap_or("?");
    let (issue, pull) = (number("/issue/number"), number("/pull_request/number"));
    let comment = number("/comment/id");
    const TITLE_BODY: &[&str] = &["title", "body"];
    const BODY: &[&str] = &["body"];
    let (object, fields, path) = match kind {
        Kind::Issues => ("issue", TITLE_BODY, format!("issues/{issue}")),
        Kind::IssueComment => (
            "comment",
            BODY,
            format!("issues/{issue}/comments/{comment}"),
        ),
        Kind::PullRequest => ("pull_request", TITLE_BODY, format!("pulls/{pull}")),
        Kind::PullRequestReview => {
            let review = number("/review/id");
            ("review", BODY, format!("pulls/{pull}/reviews/{review}"))
        }
        Kind::PullRequestReviewComment => {
            ("comment", BODY, format!("pulls/{pull}/comments/{comment}"))
        }
        Kind::CommitComment => {
            let commit = text("/comment/commit_id");
            (
                "comment",
                BODY,
                format!("commits/{commit}/comments/{comment}"),
            )
        }
        Kind::Release => {
            let tag = text("/release/tag_name");
            ("release", &["name", "body"][..], format!("releases/{tag}"))
        }
        Kind::Discussion => {
            let n = number("/discussion/number");
            ("discussion", TITLE_BODY, format!("discussions/{n}"))
        }
        Kind::DiscussionComment => {
            let n = number("/discussion/number");
            (
                "comment",
                BODY,
                format!("discussions/{n}/comments/{comment}"),
            )
        }
        Kind::Push | Kind::Public | Kind::Create | Kind::Gollum => return None,
    };
    Some(TextSource {
        object,
        fields,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_are_found_where_each_kind_keeps_them() {
        let p = json!({
            "issue": {"number": 12},
            "comment": {"id": 99, "commit_id": "abc"},
            "pull_request": {"number": 7},
            "review": {"id": 3},
            "release": {"tag_name": "v1.0"},
            "discussion": {"number": 5},
        });
        let path = |kind| text_source(kind, &p).map(|s| (s.object, s.fields, s.path));
        assert_eq!(
            path(Kind::Issues),
            Some(("issue", &["title", "body"][..], "issues/12".into()))
        );
        assert_eq!(
            path(Kind::IssueComment).map(|s| s.2),
            Some("issues/12/comments/99".into())
        );
        assert_eq!(
            path(Kind::PullRequestReview).map(|s| s.2),
            Some("pulls/7/reviews/3".into())
        );
        assert_eq!(
            path(Kind::PullRequestReviewComment).map(|s| s.2),
            Some("pulls/7/comments/99".into())
        );
        assert_eq!(
            path(Kind::CommitComment).map(|s| s.2),
            Some("commits/abc/comments/99".into())
        );
        assert_eq!(
            path(Kind::Release),
            Some(("release", &["name", "body"][..], "releases/v1.0".into()))
        );
        assert_eq!(
            path(Kind::Discussion),
            Some(("discussion", &["title", "body"][..], "discussions/5".into()))
        );
        assert_eq!(
            path(Kind::DiscussionComment),
            Some(("comment", &["body"][..], "discussions/5/comments/99".into()))
        );
        assert_eq!(path(Kind::Push), None);
        // A payload missing the numbers still names the object, with `?`.
        assert_eq!(
            text_source(Kind::IssueComment, &json!({})).map(|s| s.path),
            Some("issues/?/comments/?".into())
        );
    }
}
