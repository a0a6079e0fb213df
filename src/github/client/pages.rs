//! Following `Link: rel="next"` safely: a server (or a proxy) that points a page at itself, at
//! an earlier page, at another host, or at pages without end must not make keysweep loop
//! forever or send its token elsewhere.

use std::collections::HashSet;

use reqwest::Url;

use super::ApiError;

/// More pages than any real list has (10,000 pages of 100: a million repositories or events).
pub const MAX_PAGES: usize = 10_000;

/// The pages of one list read so far.
pub struct Pages {
    seen: HashSet<String>,
    /// Scheme, host and port of the first page: the only origin the token goes to.
    origin: Option<(String, String, Option<u16>)>,
    max: usize,
}

impl Pages {
    /// A walk starting at `first`, reading at most `max` pages.
    pub fn new(first: &str, max: usize) -> Pages {
        Pages {
            seen: HashSet::from([first.to_string()]),
            origin: Url::parse(first).ok().map(|u| origin(&u)),
            max,
        }
    }

    /// Whether the `next` link of the page at `current` may be followed: an error when it
    /// repeats a page, leaves the API's origin or goes past the bound.
    pub fn follow(&mut self, current: &str, next: &str) -> Result<(), ApiError> {
        let refuse = |why: String| ApiError::Decode {
            url: current.to_string(),
            message: format!("the Link header's next page {why}; the list was cut there"),
        };
        let parsed = Url::parse(next).map_err(|_| refuse("is not a URL".into()))?;
        if Some(origin(&parsed)) != self.origin {
            return Err(refuse(format!(
                "is on another host ({}), not the API's",
                parsed.host_str().unwrap_or("?")
            )));
        }
        if !self.seen.insert(next.to_string()) {
            return Err(refuse("was read already (the pages loop)".into()));
        }
        if self.seen.len() > self.max {
            return Err(refuse(format!("is past {} pages", self.max)));
        }
        Ok(())
    }
}

fn origin(url: &Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_string(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_other_hosts_and_endless_lists_are_refused() {
        let first = "http://127.0.0.1:9/orgs/a/repos?page=1";
        let page = |n: u32| format!("http://127.0.0.1:9/orgs/a/repos?page={n}");
        let mut pages = Pages::new(first, 3);
        assert!(pages.follow(first, &page(2)).is_ok());
        let err = pages.follow(&page(2), first).unwrap_err().to_string();
        assert!(err.contains("was read already"), "{err}");
        let err = pages
            .follow(&page(2), "http://evil.example/orgs/a/repos?page=3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("another host (evil.example)"), "{err}");
        assert!(pages.follow(&page(2), &page(3)).is_ok());
        let err = pages.follow(&page(3), &page(4)).unwrap_err().to_string();
        assert!(err.contains("past 3 pages"), "{err}");
    }
}
