//! `keysweep ci` history resolution on real repositories: a shallow checkout is deepened until
//! the range is complete, or the run fails closed with what to do.

use keysweep::ci::{resolve, Checkout, CiError, Plan, Want};

use crate::harness::git::{commit_file, file_url, git, git_init, shallow_clone};

/// A remote with `n` commits on main, and a checkout of it at depth 1.
fn remote_and_shallow_clone(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote");
    git_init(&remote);
    let shas: Vec<String> = (0..n)
        .map(|i| commit_file(&remote, "log.txt", &format!("{i}\n"), &format!("c{i}")))
        .collect();
    shallow_clone(tmp.path(), &file_url(&remote), "main", "checkout");
    (tmp, shas)
}

#[test]
fn shallow_checkout_is_deepened_until_the_range_is_complete() {
    let (tmp, shas) = remote_and_shallow_clone(80);
    let dir = tmp.path().join("checkout");
    assert_eq!(git(&dir, &["rev-parse", "--is-shallow-repository"]), "true");
    let (base, head) = (shas[20].clone(), shas[79].clone());
    let mut checkout = Checkout::new(&dir, true);
    let plan = resolve(
        Want::Range {
            base: base.clone(),
            head: head.clone(),
            why: "push".into(),
            fallback: None,
        },
        &mut checkout,
    )
    .unwrap();
    assert_eq!(
        plan,
        Plan::Range {
            range: format!("{base}..{head}"),
            why: "push".into()
        }
    );
    assert!(
        checkout.notes.iter().any(|n| n.contains("--deepen")),
        "{:?}",
        checkout.notes
    );
    git(&dir, &["merge-base", &base, &head]);
}

#[test]
fn without_deepening_a_shallow_range_fails_closed_with_a_hint() {
    let (tmp, shas) = remote_and_shallow_clone(5);
    let mut checkout = Checkout::new(&tmp.path().join("checkout"), false);
    let err = resolve(
        Want::Range {
            base: shas[1].clone(),
            head: shas[4].clone(),
            why: "push".into(),
            fallback: None,
        },
        &mut checkout,
    )
    .unwrap_err();
    assert!(matches!(err, CiError::Unreachable { .. }));
    assert!(err.to_string().contains("fetch-depth: 0"), "{err}");
}

#[test]
fn a_base_gone_from_the_remote_fails_closed() {
    let (tmp, shas) = remote_and_shallow_clone(3);
    let mut checkout = Checkout::new(&tmp.path().join("checkout"), true);
    let gone = "1234567890123456789012345678901234567890".to_string();
    let err = resolve(
        Want::Range {
            base: gone,
            head: shas[2].clone(),
            why: "pull request #7".into(),
            fallback: None,
        },
        &mut checkout,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not in this checkout"), "{err}");
}

#[test]
fn first_push_of_a_branch_scans_what_is_not_on_the_default_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote");
    git_init(&remote);
    let main_tip = commit_file(&remote, "a.txt", "a\n", "base");
    git(&remote, &["checkout", "-q", "-b", "feature"]);
    let head = commit_file(&remote, "b.txt", "b\n", "feature work");
    shallow_clone(tmp.path(), &file_url(&remote), "feature", "checkout");
    let mut checkout = Checkout::new(&tmp.path().join("checkout"), true);
    let plan = resolve(
        Want::NotOnBranch {
            branch: "main".into(),
            head: head.clone(),
            why: "first push".into(),
        },
        &mut checkout,
    )
    .unwrap();
    assert_eq!(
        plan,
        Plan::Range {
            range: format!("{main_tip}..{head}"),
            why: "first push".into()
        }
    );
}

#[test]
fn full_history_of_a_shallow_checkout_is_unshallowed_or_refused() {
    let (tmp, _) = remote_and_shallow_clone(4);
    let dir = tmp.path().join("checkout");
    let err = resolve(
        Want::Full {
            why: "schedule".into(),
        },
        &mut Checkout::new(&dir, false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("shallow"), "{err}");
    let plan = resolve(
        Want::Full {
            why: "schedule".into(),
        },
        &mut Checkout::new(&dir, true),
    )
    .unwrap();
    assert!(matches!(plan, Plan::Full { .. }));
    assert_eq!(
        git(&dir, &["rev-parse", "--is-shallow-repository"]),
        "false"
    );
}
