//! Runs a parsed command: builds the scanner from config and flags, drives a source, writes
//! the report, and says how it went. `main.rs` only maps the [`Outcome`] to an exit code.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{
    BaselineCommand, Cli, ColorChoice, Command, DirArgs, Format, GitArgs, InstallHookArgs,
    ReportCommand, RevokeCommand, RuleArgs, RulesCommand, ScanArgs, StagedArgs, WalkArgs,
};
use crate::config::Config;
use crate::finding::Finding;
use crate::report::{self, text::human_bytes, ReportOptions};
use crate::revoke::{Revocation, Settings};
use crate::rules::{self, RuleSet};
use crate::scan::{Collector, ScanOptions, Scanner, Summary};
use crate::source::{self, dir::DirOptions, git::GitOptions};
use crate::suppress::{self, Suppressor};

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

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

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Dir(args) => scan_dirs(&args),
        Command::Stdin(args) => {
            let scanner = build_scanner(&args, None)?;
            let collector = Collector::default();
            with_progress(&scanner, &collector, args.quiet, || {
                source::stdin::scan(&scanner, &collector)
            });
            finish(&scanner, collector, &args)
        }
        Command::Git(args) => scan_git(&args),
        Command::Staged(args) => scan_staged(&args),
        Command::InstallHook(args) => install_hook(&args),
        Command::Ci(args) => crate::ci::run(&args),
        Command::Rules(RulesCommand::List { rules, json }) => list_rules(&rules, json),
        Command::Rules(RulesCommand::Check { path }) => check_rules(path.as_deref()),
        Command::Baseline(BaselineCommand::Create {
            paths,
            from,
            output,
            walk,
            rules,
        }) => create_baseline(&paths, from.as_deref(), &output, &walk, &rules),
        Command::Revoke(args) => revoke_report(&args),
        Command::Github(command) => crate::github::run(command),
        Command::Report(ReportCommand::Merge {
            inputs,
            format,
            output,
            rules,
        }) => merge_reports(&inputs, format, output.as_deref(), &rules),
    }
}

fn scan_dirs(args: &DirArgs) -> anyhow::Result<Outcome> {
    let scanner = build_scanner(&args.scan, args.paths.first().map(PathBuf::as_path))?;
    let collector = Collector::default();
    with_progress(&scanner, &collector, args.scan.quiet, || {
        source::dir::scan(
            &scanner,
            &args.paths,
            &dir_options(&args.walk, args.scan.threads),
            &collector,
        )
    });
    finish(&scanner, collector, &args.scan)
}

fn scan_git(args: &GitArgs) -> anyhow::Result<Outcome> {
    let scanner = build_scanner(&args.scan, Some(&args.repo))?;
    let collector = Collector::default();
    let options = GitOptions {
        range: args.range.clone(),
        allow_empty_range: args.allow_empty_range,
        all_objects: args.all_objects,
        state: args.state.clone(),
        threads: args.scan.threads,
    };
    with_progress(&scanner, &collector, args.scan.quiet, || {
        source::git::scan(&scanner, &args.repo, &options, &collector)
    })?;
    finish(&scanner, collector, &args.scan)
}

fn scan_staged(args: &StagedArgs) -> anyhow::Result<Outcome> {
    let scanner = build_scanner(&args.scan, Some(&args.repo))?;
    let collector = Collector::default();
    source::staged::scan(&scanner, &args.repo, &collector)?;
    let outcome = finish(&scanner, collector, &args.scan)?;
    if outcome.findings > 0 && !args.scan.quiet {
        eprintln!(
            "keysweep: commit blocked: remove the key (and rotate it: it may be in your shell \
             history or editor backups), or mark an intended line `keysweep:allow`"
        );
    }
    Ok(outcome)
}

fn install_hook(args: &InstallHookArgs) -> anyhow::Result<Outcome> {
    let (hook, backup) = crate::hook::install(&args.repo, args.force, &args.staged_args)?;
    if let Some(kept) = backup {
        eprintln!("keysweep: kept the previous hook as {}", kept.display());
    }
    eprintln!("keysweep: installed {}", hook.display());
    Ok(Outcome::default())
}

pub fn dir_options(walk: &WalkArgs, threads: usize) -> DirOptions {
    DirOptions {
        no_ignore: walk.no_ignore,
        follow: walk.follow,
        threads,
    }
}

/// Loads config (explicit, or discovered in `root`), rules and suppressions.
pub fn build_scanner(args: &ScanArgs, root: Option<&Path>) -> anyhow::Result<Scanner> {
    let config = Config::discover(args.config.as_deref(), root)?;
    let rules = load_rules(&config, &args.rules, args.no_builtin_rules)?;
    let baseline = args
        .baseline
        .clone()
        .or_else(|| config.baseline.as_ref().map(|b| config.resolve(b)));
    let suppress = Suppressor::new(&config.allowlist, baseline.as_deref())?;
    // Before the scan: a missing token or a bad endpoint should cost a second, not a scan.
    let revocation = (args.revoke || args.revocation.dry_run)
        .then(|| Revocation::prepare(&config, &rules, &args.revocation))
        .transpose()?;
    let mut scanner = Scanner::new(
        rules,
        suppress,
        ScanOptions {
            show_secrets: args.show_secrets,
        },
    )?;
    scanner.revocation = revocation;
    Ok(scanner)
}

fn load_rules(config: &Config, extra: &[PathBuf], no_builtin: bool) -> anyhow::Result<RuleSet> {
    let rules = RuleSet::load(&config.rule_sources(extra, no_builtin))?;
    anyhow::ensure!(
        !rules.is_empty(),
        "no rules to scan with (built-in rules disabled and none given)"
    );
    Ok(rules)
}

/// Sorts the findings, revokes if asked, writes the report where asked and returns the outcome.
pub fn finish(scanner: &Scanner, collector: Collector, args: &ScanArgs) -> anyhow::Result<Outcome> {
    let (findings, summary) = conclude(scanner, collector, args)?;
    emit_report(&findings, &summary, &scanner.rules, args)?;
    Ok(outcome(&findings, &summary))
}

/// Sorts the findings, runs revocation if asked, and sums up: everything a report needs.
pub fn conclude(
    scanner: &Scanner,
    collector: Collector,
    args: &ScanArgs,
) -> anyhow::Result<(Vec<Finding>, Summary)> {
    let mut findings = collector.into_sorted();
    let mut summary = scanner.summary(findings.len());
    if let Some(revocation) = &scanner.revocation {
        let mut log: Box<dyn Write> = if args.quiet {
            Box::new(io::sink())
        } else {
            Box::new(io::stderr())
        };
        summary.revocation = Some(revocation.run(&mut findings, &mut log)?);
    }
    Ok((findings, summary))
}

/// A failed revocation makes the run incomplete: a leak was found and is still live.
pub fn outcome(findings: &[Finding], summary: &Summary) -> Outcome {
    let revocation_failed = summary.revocation.as_ref().is_some_and(|t| t.failed > 0);
    Outcome {
        findings: findings.len(),
        incomplete: summary.incomplete || revocation_failed,
        failed: false,
    }
}

pub fn emit_report(
    findings: &[Finding],
    summary: &Summary,
    rules: &RuleSet,
    args: &ScanArgs,
) -> anyhow::Result<()> {
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let options = ReportOptions { color };
    let result = match &args.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create report {}", path.display()))?;
            let mut out = BufWriter::new(file);
            report::write(args.format, findings, summary, rules, &mut out, &options)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write report {}", path.display()))
        }
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            let r = report::write(args.format, findings, summary, rules, &mut out, &options)
                .and_then(|()| out.flush());
            match r {
                // A closed pipe (`keysweep … | head`) is the reader's choice, not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("cannot write report"),
            }
        }
    };
    result?;
    // Machine formats keep stdout clean; the summary goes to stderr for the humans in CI logs.
    if (args.format != Format::Text || args.output.is_some()) && !args.quiet {
        eprintln!(
            "keysweep: {}",
            report::text::summary_line(findings, summary)
        );
    }
    Ok(())
}

/// Runs `work` with a progress line on stderr when stderr is a terminal and the work takes
/// longer than a second (short scans stay silent).
pub fn with_progress<T>(
    scanner: &Scanner,
    collector: &Collector,
    quiet: bool,
    work: impl FnOnce() -> T,
) -> T {
    if quiet || !io::stderr().is_terminal() {
        return work();
    }
    let done = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let flag = done.clone();
        s.spawn(move || {
            let mut waited = Duration::ZERO;
            let tick = Duration::from_millis(100);
            let mut shown = false;
            while !flag.load(Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited >= Duration::from_secs(1) && waited.as_millis().is_multiple_of(300) {
                    let s = scanner.summary(collector.len());
                    eprint!(
                        "\r\x1b[2Kscanning: {} files, {}, {} findings",
                        s.files,
                        human_bytes(s.bytes),
                        s.findings
                    );
                    shown = true;
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        let result = work();
        done.store(true, Relaxed);
        result
    })
}

fn list_rules(args: &RuleArgs, json: bool) -> anyhow::Result<Outcome> {
    let config = Config::discover(args.config.as_deref(), None)?;
    let rules = load_rules(&config, &args.rules, args.no_builtin_rules)?;
    let mut out = io::stdout().lock();
    if json {
        let list: Vec<_> = rules
            .rules()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id(),
                    "description": r.spec.description,
                    "severity": r.spec.severity,
                    "revocable": r.spec.revocable,
                    "keywords": r.spec.keywords,
                    "origin": r.origin,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else {
        for r in rules.rules() {
            writeln!(
                out,
                "{:<40} {:<6} {:<9} {}",
                r.id(),
                r.spec.severity,
                if r.spec.revocable { "revocable" } else { "" },
                r.spec.description
            )?;
        }
        writeln!(out, "{} rules", rules.len())?;
    }
    Ok(Outcome::default())
}

fn check_rules(path: Option<&Path>) -> anyhow::Result<Outcome> {
    let specs = match path {
        Some(p) => rules::read_rule_path(p)?,
        None => {
            let mut specs = Vec::new();
            for (name, text) in rules::BUILTIN_RULE_FILES {
                specs.extend(rules::parse_file(&format!("builtin:{name}"), text)?);
            }
            specs
        }
    };
    let report = rules::check::check(specs);
    for f in &report.failures {
        eprintln!("FAIL {f}");
    }
    println!(
        "{} rules, {} examples checked, {} failure{}",
        report.rules,
        report.examples,
        report.failures.len(),
        if report.failures.len() == 1 { "" } else { "s" }
    );
    Ok(Outcome {
        failed: !report.failures.is_empty(),
        ..Default::default()
    })
}

fn create_baseline(
    paths: &[PathBuf],
    from: Option<&Path>,
    output: &Path,
    walk: &WalkArgs,
    rule_args: &RuleArgs,
) -> anyhow::Result<Outcome> {
    let (findings, incomplete) = match from {
        Some(report) => (read_report(report)?, false),
        None => {
            let config = Config::discover(
                rule_args.config.as_deref(),
                paths.first().map(PathBuf::as_path),
            )?;
            let rules = load_rules(&config, &rule_args.rules, rule_args.no_builtin_rules)?;
            // No baseline here: a new baseline holds everything that is there now.
            let suppress = Suppressor::new(&config.allowlist, None)?;
            let scanner = Scanner::new(rules, suppress, ScanOptions::default())?;
            let collector = Collector::default();
            source::dir::scan(&scanner, paths, &dir_options(walk, 0), &collector);
            let findings = collector.into_sorted();
            let incomplete = scanner.summary(findings.len()).incomplete;
            (findings, incomplete)
        }
    };
    let text = suppress::render_baseline(findings.iter().map(|f| f.fingerprint.as_str()));
    std::fs::write(output, &text)
        .with_context(|| format!("cannot write baseline {}", output.display()))?;
    let count = text.lines().filter(|l| !l.starts_with('#')).count();
    eprintln!(
        "keysweep: wrote {count} fingerprint{} to {}",
        if count == 1 { "" } else { "s" },
        output.display()
    );
    Ok(Outcome {
        incomplete,
        ..Default::default()
    })
}

fn read_report(path: &Path) -> anyhow::Result<Vec<Finding>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    report::json::read_findings(&text)
        .with_context(|| format!("cannot read findings from {}", path.display()))
}

/// `keysweep revoke`: the keys of an earlier report, without scanning again. Exit 2 if any
/// revocation failed, else 0 (the findings are the input here, not news).
fn revoke_report(args: &RevokeCommand) -> anyhow::Result<Outcome> {
    let config = Config::discover(args.rules.config.as_deref(), Some(Path::new(".")))?;
    // Rules give the default prefixes; a `[revoke] prefixes` list makes them unnecessary.
    let rules =
        RuleSet::load(&config.rule_sources(&args.rules.rules, args.rules.no_builtin_rules))?;
    if args.print_egress {
        let settings = Settings::resolve(&config, &rules, &args.options)?;
        println!("{}", settings.egress());
        return Ok(Outcome::default());
    }
    let from = args
        .from
        .as_deref()
        .context("--from REPORT names the report to revoke from")?;
    let mut findings = read_report(from)?;
    let revocation = Revocation::prepare(&config, &rules, &args.options)?;
    let text = args.format == Format::Text;
    let mut log: Box<dyn Write> = match (args.quiet, text) {
        (true, _) => Box::new(io::sink()),
        (false, true) => Box::new(io::stdout()),
        (false, false) => Box::new(io::stderr()),
    };
    let tally = revocation.run(&mut findings, &mut log)?;
    if !args.quiet {
        writeln!(log, "keysweep: {tally}")?;
    }
    drop(log);
    if !text {
        let summary = Summary {
            findings: findings.len() as u64,
            rules: rules.len() as u64,
            revocation: Some(tally.clone()),
            ..Summary::default()
        };
        let options = ReportOptions { color: false };
        let mut stdout = io::stdout().lock();
        report::write(
            args.format,
            &findings,
            &summary,
            &rules,
            &mut stdout,
            &options,
        )
        .and_then(|()| stdout.flush())
        .context("cannot write report")?;
    }
    Ok(Outcome {
        incomplete: tally.failed > 0,
        ..Outcome::default()
    })
}

fn merge_reports(
    inputs: &[PathBuf],
    format: Format,
    output: Option<&Path>,
    rule_args: &RuleArgs,
) -> anyhow::Result<Outcome> {
    use crate::report::merge::{self, Merged};
    let merged = merge::merge_files(inputs)?;
    anyhow::ensure!(
        format == Format::Sarif || !matches!(merged, Merged::Sarif { .. }),
        "SARIF inputs merge into SARIF only: add --format sarif"
    );
    let (count, incomplete) = match &merged {
        Merged::Findings {
            findings,
            incomplete,
        } => (findings.len(), *incomplete),
        Merged::Sarif { results, .. } => (*results, false),
    };
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        match &merged {
            Merged::Sarif { sarif, .. } => {
                serde_json::to_writer_pretty(&mut *out, sarif)?;
                writeln!(out)?;
            }
            Merged::Findings {
                findings,
                incomplete,
            } => {
                // Rules only describe results (SARIF); a rule missing here is not an error.
                let config = Config::discover(rule_args.config.as_deref(), None)?;
                let rules = load_rules(&config, &rule_args.rules, rule_args.no_builtin_rules)?;
                let summary = merge::summary(findings, rules.len(), *incomplete);
                let options = ReportOptions { color: false };
                report::write(format, findings, &summary, &rules, out, &options)?;
            }
        }
        Ok(out.flush()?)
    };
    match output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create report {}", path.display()))?;
            write(&mut BufWriter::new(file))
                .with_context(|| format!("cannot write report {}", path.display()))?;
        }
        None => write(&mut BufWriter::new(io::stdout().lock()))?,
    }
    eprintln!(
        "keysweep: merged {} report{} into {count} {}",
        inputs.len(),
        if inputs.len() == 1 { "" } else { "s" },
        if matches!(merged, Merged::Sarif { .. }) {
            "results (one per secret)"
        } else {
            "findings"
        }
    );
    Ok(Outcome {
        findings: count,
        incomplete,
        failed: false,
    })
}
