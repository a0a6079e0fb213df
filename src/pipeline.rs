//! The one scan pipeline every entry point runs: build the scanner from configuration → a
//! source feeds it → collect → revoke (opt-in) → emit the report. Commands (`cmd/`) turn flags
//! into [`Options`] and [`ReportSpec`]; a long-running server builds the same pipeline from its
//! configuration. The scanner itself knows nothing of revocation or reports.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::finding::Finding;
use crate::messages::{human_bytes, Messages, Progress};
use crate::output::{ColorChoice, Target};
use crate::report::{self, Format, ReportOptions, Summary};
use crate::revoke::{self, Revocation, Tally};
use crate::rules::RuleSet;
use crate::scan::{Collector, ScanOptions, Scanner};
use crate::suppress::Suppressor;

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// How a run ended, which `main` maps to an exit code.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub findings: usize,
    /// Something could not be scanned or done: results are a lower bound.
    pub incomplete: bool,
    /// A check (not a scan) failed, e.g. `rules check`.
    pub failed: bool,
}

impl Outcome {
    /// 2 beats 1: an incomplete scan must not pass for a clean or merely dirty one.
    pub fn exit_code(&self) -> u8 {
        if self.incomplete {
            EXIT_ERROR
        } else if self.findings > 0 || self.failed {
            EXIT_FINDINGS
        } else {
            EXIT_CLEAN
        }
    }
}

/// Which rules: the configuration file and extra rule paths.
#[derive(Debug, Clone, Default)]
pub struct RuleOptions {
    /// An explicit `keysweep.toml` (it must exist).
    pub config: Option<PathBuf>,
    /// Extra rule files or directories.
    pub paths: Vec<PathBuf>,
    pub no_builtin: bool,
}

impl RuleOptions {
    /// The configuration in force: explicit, else `keysweep.toml` in `root`, else defaults.
    pub fn config(&self, root: Option<&Path>) -> anyhow::Result<Config> {
        Config::discover(self.config.as_deref(), root)
    }

    /// The rule set `config` and these options name; an empty set is an error for a scan.
    pub fn load(&self, config: &Config, messages: &Messages) -> anyhow::Result<RuleSet> {
        let rules = config.load_rules(&self.paths, self.no_builtin, messages)?;
        anyhow::ensure!(
            !rules.is_empty(),
            "no rules to scan with (built-in rules disabled and none given)"
        );
        Ok(rules)
    }
}

/// Everything a scan needs besides its source.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub rules: RuleOptions,
    /// Where `keysweep.toml` is looked for when none is named (the scanned root).
    pub root: Option<PathBuf>,
    /// Fingerprints to hide, overriding the configuration's `baseline`.
    pub baseline: Option<PathBuf>,
    /// Use no baseline at all, not even the configuration's.
    pub no_baseline: bool,
    pub show_secrets: bool,
    /// Revoke (or, with `dry_run`, plan revoking) the findings' keys.
    pub revoke: Option<revoke::Options>,
    /// No progress line and no per-key revocation lines.
    pub quiet: bool,
}

/// Where and how the report is written.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub color: ColorChoice,
    /// No closing summary line on stderr.
    pub quiet: bool,
}

/// A scan's results: sorted findings (with revocation outcomes when asked) and the summary.
pub struct Results {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Results {
    /// A failed revocation makes the run incomplete: a leak was found and is still live.
    pub fn outcome(&self) -> Outcome {
        let revocation_failed = self
            .summary
            .revocation
            .as_ref()
            .is_some_and(|t| t.failed > 0);
        Outcome {
            findings: self.findings.len(),
            incomplete: self.summary.incomplete || revocation_failed,
            failed: false,
        }
    }
}

/// A scanner ready for sources, and what happens to its findings afterwards.
pub struct Pipeline {
    pub scanner: Scanner,
    pub config: Config,
    /// Prepared (token read, endpoint checked) before the scan starts.
    revocation: Option<Revocation>,
    quiet: bool,
}

impl Pipeline {
    /// Loads configuration, rules and suppressions, and prepares revocation: a missing token or
    /// a bad endpoint should cost a second, not a scan.
    pub fn build(options: &Options, messages: Messages) -> anyhow::Result<Pipeline> {
        let config = options.rules.config(options.root.as_deref())?;
        let rules = options.rules.load(&config, &messages)?;
        let baseline = match options.no_baseline {
            true => None,
            false => options
                .baseline
                .clone()
                .or_else(|| config.baseline.as_ref().map(|b| config.resolve(b))),
        };
        let suppress = Suppressor::new(&config.allowlist, baseline.as_deref())?;
        let revocation = options
            .revoke
            .as_ref()
            .map(|r| Revocation::prepare(&config.revoke_section(), &rules, r, &messages))
            .transpose()?;
        let scan = ScanOptions {
            show_secrets: options.show_secrets,
            archives: config.archives.clone(),
        };
        Ok(Pipeline {
            scanner: Scanner::new(rules, suppress, scan, messages)?,
            config,
            revocation,
            quiet: options.quiet,
        })
    }

    pub fn rules(&self) -> &RuleSet {
        &self.scanner.rules
    }

    pub fn messages(&self) -> &Messages {
        &self.scanner.messages
    }

    /// Runs `work` (a source feeding `collector`) under a progress line.
    pub fn run<T>(&self, collector: &Collector, work: impl FnOnce() -> T) -> T {
        Progress::new(self.messages(), self.quiet).run(
            || {
                let c = self.scanner.counts();
                let line = format!(
                    "scanning: {}, {}, {} findings",
                    report::text::scanned_counts(c.files, c.blobs, c.messages),
                    human_bytes(c.bytes),
                    collector.len()
                );
                self.scanner.phase.status(line)
            },
            work,
        )
    }

    /// The summary of what was scanned so far, with `findings` kept.
    pub fn summary(&self, findings: usize) -> Summary {
        Summary::of_scan(self.scanner.counts(), findings, self.rules().len())
    }

    /// Sorts the findings, runs revocation if asked, and sums up: everything a report needs.
    pub fn conclude(&self, collector: Collector) -> anyhow::Result<Results> {
        let mut findings = collector.into_sorted();
        let mut summary = self.summary(findings.len());
        summary.revocation = self.revoke(&mut findings)?;
        Ok(Results { findings, summary })
    }

    /// Revokes the keys of `findings` when the run was asked to (`None` otherwise), setting each
    /// finding's outcome. Failures are outcomes in the tally, not errors.
    pub fn revoke(&self, findings: &mut [Finding]) -> anyhow::Result<Option<Tally>> {
        let Some(revocation) = &self.revocation else {
            return Ok(None);
        };
        let mut log: Box<dyn Write> = if self.quiet {
            Box::new(io::sink())
        } else {
            Box::new(self.messages().lines())
        };
        let progress = Progress::new(self.messages(), self.quiet);
        let tally = progress.run(
            || revocation.progress(),
            || revocation.run(findings, &mut log),
        )?;
        Ok(Some(tally))
    }

    /// Whether the revocation journal still takes records (`None` without a live revocation):
    /// after a failed write it takes none, and nothing more is sent.
    pub fn journal_health(&self) -> Option<Result<(), String>> {
        self.revocation.as_ref()?.journal_health()
    }

    /// Writes the report where `spec` says; machine formats and files get the summary line on
    /// stderr, for the humans reading CI logs.
    pub fn emit(&self, results: &Results, spec: &ReportSpec) -> anyhow::Result<()> {
        emit(results, self.rules(), spec, self.messages())
    }

    /// [`Pipeline::conclude`], [`Pipeline::emit`], and the outcome.
    pub fn finish(&self, collector: Collector, spec: &ReportSpec) -> anyhow::Result<Outcome> {
        let results = self.conclude(collector)?;
        self.emit(&results, spec)?;
        Ok(results.outcome())
    }
}

/// Writes `results` as `spec` says (see [`Pipeline::emit`]).
pub fn emit(
    results: &Results,
    rules: &RuleSet,
    spec: &ReportSpec,
    messages: &Messages,
) -> anyhow::Result<()> {
    let target = Target::new(spec.output.as_deref());
    let options = ReportOptions {
        color: target.color(spec.color),
    };
    let Results { findings, summary } = results;
    target.write(|out| {
        Ok(report::write(
            spec.format,
            findings,
            summary,
            rules,
            out,
            &options,
        )?)
    })?;
    if (spec.format != Format::Text || spec.output.is_some()) && !spec.quiet {
        messages.status(report::text::summary_line(findings, summary));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(findings: usize, incomplete: bool, failed_revocations: u64) -> Results {
        let mut summary = Summary {
            incomplete,
            ..Summary::default()
        };
        if failed_revocations > 0 {
            summary.revocation = Some(revoke::Tally {
                failed: failed_revocations,
                ..Default::default()
            });
        }
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "rule": "t", "description": "", "severity": "high", "secret_sha256": "",
            "fingerprint": "", "redacted": "", "revocable": false, "line": 1, "column": 1,
            "source": "dir", "path": "x"
        }))
        .unwrap();
        Results {
            findings: vec![finding; findings],
            summary,
        }
    }

    #[test]
    fn exit_codes_incomplete_beats_findings_beats_clean() {
        assert_eq!(results(0, false, 0).outcome().exit_code(), EXIT_CLEAN);
        assert_eq!(results(2, false, 0).outcome().exit_code(), EXIT_FINDINGS);
        assert_eq!(results(2, true, 0).outcome().exit_code(), EXIT_ERROR);
        // A key found but not revoked is still live: the run did not do what was asked.
        assert_eq!(results(1, false, 1).outcome().exit_code(), EXIT_ERROR);
        let check = Outcome {
            failed: true,
            ..Outcome::default()
        };
        assert_eq!(check.exit_code(), EXIT_FINDINGS);
    }

    #[test]
    fn a_scan_without_rules_is_refused_with_the_reason() {
        let options = RuleOptions {
            no_builtin: true,
            ..RuleOptions::default()
        };
        let err = options
            .load(&Config::default(), &Messages::capture())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no rules to scan with (built-in rules disabled and none given)"
        );
    }

    #[test]
    fn errors_reported_during_a_scan_make_the_summary_incomplete() {
        let options = Options {
            root: Some(PathBuf::from("/nonexistent-keysweep-root")),
            quiet: true,
            ..Options::default()
        };
        let pipeline = Pipeline::build(&options, Messages::capture()).unwrap();
        assert!(!pipeline.summary(0).incomplete);
        pipeline.messages().error("x: unreadable");
        let summary = pipeline.summary(0);
        assert!(summary.incomplete && summary.errors == 1, "{summary:?}");
        assert_eq!(
            pipeline.messages().captured(),
            "keysweep: error: x: unreadable\n"
        );
    }
}
