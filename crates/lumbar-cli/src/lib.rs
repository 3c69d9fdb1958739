//! The `lumbar` command line. Thin by design: it parses arguments, resolves
//! files, shows progress and calls the libraries; no statistics, validation
//! or table logic lives here.
//!
//! [`run`] takes the arguments and a writer for standard output so tests can
//! drive every subcommand in-process and read what it prints.
//!
//! ```
//! let mut out = Vec::new();
//! let code = lumbar_cli::run(["lumbar", "--version"], &mut out).unwrap();
//! assert_eq!(code, 0);
//! assert!(String::from_utf8(out).unwrap().starts_with("lumbar "));
//! ```

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use lumbar_model::Regimen;

mod commands;
mod rformat;

/// Where the shipped regimen lives in a checkout; used when `--regimen` is
/// not given and the file exists, so a clinic's edit takes effect.
pub const DEFAULT_REGIMEN_PATH: &str = "datasets/regimens/six-moves.toml";

#[derive(Parser, Debug)]
#[command(
    name = "lumbar",
    version,
    about = "Data analysis and simulation for back-pain exercise programmes",
    long_about = "Data analysis and simulation for back-pain exercise programmes.\n\n\
                  Ingest exercise-session logs and walking data into validated Parquet tables, \
                  analyse adherence, pain and walking-vs-risk, and simulate progression rules.",
    after_help = "Examples:\n  lumbar generate --patients 200 --weeks 12 --seed 20250613 --out datasets/demo\n  \
                  lumbar ingest --out store --patients datasets/demo/patients.csv --sessions datasets/demo/sessions.csv\n  \
                  lumbar regimen show"
)]
pub struct Cli {
    /// No progress bars or notes on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show or check a regimen file.
    #[command(
        after_help = "Examples:\n  lumbar regimen show\n  lumbar regimen show my-clinic.toml"
    )]
    Regimen {
        #[command(subcommand)]
        action: RegimenAction,
    },
    /// Generate a synthetic cohort as CSV tables (deterministic for a seed).
    #[command(
        after_help = "Example:\n  lumbar generate --patients 200 --weeks 12 --seed 20250613 --out datasets/demo"
    )]
    Generate(commands::GenerateArgs),
    /// Validate input tables and write them into a store as canonical Parquet.
    #[command(
        after_help = "Examples:\n  lumbar ingest --out store --patients patients.csv --sessions sessions.csv\n  \
                            lumbar ingest --out store --dir datasets/demo --json\n  \
                            lumbar ingest --out store --walking P00042.zip          # an Apple Health export, named after its patient\n  \
                            lumbar ingest --out store --walking export.xml --patient-id P00042\n  \
                            lumbar ingest --out store --walking Observation.ndjson  # FHIR: steps and minutes to walking, pain to outcomes\n  \
                            lumbar ingest --out store --walking part5_daysummary_MM_L40M100V400_T5A5.csv --walking-format ggir"
    )]
    Ingest(commands::IngestArgs),
    /// Adherence, safety, pain trends and the cohort pain model of a store.
    #[command(
        after_help = "Examples:\n  lumbar analyze out/store --out out/analysis\n  \
                            lumbar analyze out/store --from datasets/demo --out out/analysis   # ingest, then analyse"
    )]
    Analyze(commands::analyze::AnalyzeArgs),
    /// Walking and the risk of chronic low-back pain: incidence, crude and adjusted RRs, spline, Cox.
    #[command(
        after_help = "Examples:\n  lumbar risk --store out/store --covariates age,sex,bmi --categorical sex --time time_years\n  \
                            lumbar risk --data cohort.csv --exposure walking_min --outcome event --quantiles 4 --json"
    )]
    Risk(commands::risk::RiskArgs),
    /// Run a batch of steps (ingest, analyze, risk, report, simulate, compare), skipping unchanged ones.
    #[command(
        after_help = "Examples:\n  lumbar run datasets/batch-demo.toml\n  lumbar run my-study.toml --force"
    )]
    Run(commands::batch::BatchArgs),
    /// The clinic's cohort report: one self-contained HTML file, small cells suppressed, no identifiers.
    #[command(
        after_help = "Examples:\n  lumbar report out/store -o out/report.html\n  \
                            lumbar report out/store -o north.html --site north --from 2025-01-01 --to 2025-03-31"
    )]
    Report(commands::report::ReportArgs),
    /// Simulate a scenario: a synthetic cohort following a regimen and its progression rules.
    #[command(
        after_help = "Examples:\n  lumbar simulate datasets/scenarios/pain-contingent.toml --out out/sim/pain\n  \
                            lumbar simulate datasets/scenarios/graded-activity.toml --patients 100000 --shard 2/4 --out out/sim/graded-2\n  \
                            lumbar simulate datasets/scenarios/no-exercise.toml --weeks 26 --trajectories --out out/sim/control --json"
    )]
    Simulate(commands::simulate::SimulateArgs),
    /// Fit a scenario's [calibration.parameters] to a clinic's cohort (ABC-SMC or simulated moments).
    #[command(
        after_help = "Example:\n  lumbar calibrate out/store --scenario datasets/scenarios/graded-activity.toml --out out/calibrated"
    )]
    Calibrate(commands::calibrate::CalibrateArgs),
    /// Replay a clinic's own patients under another progression rule, from a calibration.
    #[command(
        after_help = "Example:\n  lumbar replay out/store --calibrated out/calibrated --scenario datasets/scenarios/pain-contingent.toml --out out/replay"
    )]
    Replay(commands::replay::ReplayArgs),
    /// Merge the result folders of the shards of one simulation, analysis or report (byte-identical to the unsharded run).
    #[command(
        after_help = "Examples:\n  lumbar merge out/sim/graded-1 out/sim/graded-2 out/sim/graded-3 out/sim/graded-4 --out out/sim/graded\n  \
                      lumbar merge out/analysis-1 out/analysis-2 --out out/analysis   # from analyze --shard 1/2 and 2/2\n  \
                      lumbar merge out/report-1 out/report-2 --out out/report.html   # from report --shard 1/2 and 2/2"
    )]
    Merge(commands::compare::MergeArgs),
    /// Differences between two simulated scenarios (B − A), with intervals.
    #[command(after_help = "Example:\n  lumbar compare out/sim/graded out/sim/pain --json")]
    Compare(commands::compare::CompareArgs),
    /// Check a store: every part, row index and rejects file against its checksum.
    #[command(
        after_help = "Examples:\n  lumbar store check out/store\n  lumbar store check out/store --json"
    )]
    Store {
        #[command(subcommand)]
        action: commands::store::StoreAction,
    },
    /// Statistical models on any CSV or Parquet file.
    Stats {
        #[command(subcommand)]
        model: StatsModel,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    #[command(
        after_help = "Examples:\n  lumbar completions bash > ~/.local/share/bash-completion/completions/lumbar\n  \
                      lumbar completions zsh > ~/.zfunc/_lumbar\n  \
                      lumbar completions fish > ~/.config/fish/completions/lumbar.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), for man(1).
    #[command(after_help = "Example:\n  lumbar man > lumbar.1 && man ./lumbar.1")]
    Man,
    /// Print the data dictionary: every column of the input tables, the rejects and analyze's results (docs/tables.md).
    #[command(after_help = "Example:\n  lumbar tables > docs/tables.md")]
    Tables,
}

#[derive(Subcommand, Debug)]
pub enum StatsModel {
    /// Linear mixed model: random intercept (and slope on time) per group, REML or ML, as lme4.
    #[command(
        after_help = "Example (lme4's sleepstudy, Reaction ~ Days + (Days | Subject)):\n  \
                            lumbar stats lmm --data sleepstudy.csv --response Reaction --time Days --group Subject --json"
    )]
    Lmm(commands::stats::LmmArgs),
    /// Modified Poisson regression: risk ratios with robust (sandwich) SEs, as statsmodels and R's sandwich.
    #[command(
        after_help = "Example:\n  lumbar stats poisson --data cohort.csv --outcome event --covariates walk_cat,age,sex \\\n    --categorical 'walk_cat:<78',sex --json"
    )]
    Poisson(commands::stats::PoissonArgs),
    /// Kaplan–Meier curves with Greenwood CIs (log scale, as survfit) and the log-rank test.
    #[command(
        after_help = "Example (R: write.csv(survival::lung, \"lung.csv\"); survfit(Surv(time, status) ~ sex, lung)):\n  \
                            lumbar stats km --data lung.csv --time time --event status --group sex --times 180,365"
    )]
    Km(commands::stats::KmArgs),
    /// Cox proportional hazards: Efron or Breslow ties, strata, weights, delayed entry, robust and cluster SEs, as R's coxph.
    #[command(
        after_help = "Example (R: coxph(Surv(time, status) ~ age + sex + ph.ecog, lung)):\n  \
                            lumbar stats cox --data lung.csv --time time --event status --covariates age,sex,ph.ecog --json"
    )]
    Cox(commands::stats::CoxArgs),
}

#[derive(Subcommand, Debug)]
pub enum RegimenAction {
    /// Print the regimen as a table (the default regimen when FILE is omitted).
    Show { file: Option<PathBuf> },
}

/// Runs the command line and turns errors into a one-line cause plus hint.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(args, &mut out) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        // A reader that closed stdout (`lumbar ... | head`) ends the run
        // quietly with the shell's SIGPIPE status, as `cat` would; files
        // were committed before anything is printed.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => {
            let _ = out.flush();
            let msg = error_line(&e);
            // Not eprintln!: it panics when stderr is closed too.
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "lumbar: error: {msg}");
            if let Some(hint) = hint_for(&e) {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, each cause said once: a cause
/// whose text the line already ends with (an error that prints its source
/// and also returns it, as `cannot open F: No such file…` over the OS
/// error) is not repeated.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

/// The exit status when stdout was closed by its reader: 128 + SIGPIPE.
pub const EXIT_BROKEN_PIPE: u8 = 141;

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn hint_for(e: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{e:#}");
    if text.contains("No such file") || text.contains("cannot open") {
        Some("check the path; relative paths are taken from the current folder")
    } else if text.contains("regimen") {
        Some("`lumbar regimen show FILE` checks a regimen file and names the key at fault")
    } else {
        Some("run the command with --help for its options and examples")
    }
}

/// Parses `args` and runs the command, writing results to `out`. Returns the
/// exit code; `Err` is a failure with its cause.
pub fn run<I, T>(args: I, out: &mut dyn Write) -> Result<u8>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    write!(out, "{e}")?;
                    Ok(0)
                }
                _ => {
                    let _ = write!(std::io::stderr(), "{e}");
                    Ok(2)
                }
            };
        }
    };
    let ui = Ui {
        quiet: cli.quiet || !std::io::stderr().is_terminal(),
    };
    match &cli.command {
        Command::Regimen {
            action: RegimenAction::Show { file },
        } => {
            let regimen = load_regimen(file.as_deref())?;
            write!(out, "{}", regimen.render())?;
            Ok(0)
        }
        Command::Generate(args) => commands::generate(args, &args.regimen.load()?, &ui, out),
        Command::Ingest(args) => commands::ingest(args, &args.regimen.load()?, &ui, out),
        Command::Stats {
            model: StatsModel::Lmm(args),
        } => commands::stats::lmm(args, out),
        Command::Stats {
            model: StatsModel::Poisson(args),
        } => commands::stats::poisson(args, out),
        Command::Stats {
            model: StatsModel::Km(args),
        } => commands::stats::km(args, out),
        Command::Stats {
            model: StatsModel::Cox(args),
        } => commands::stats::cox(args, out),
        Command::Risk(args) => commands::risk::risk(args, out),
        Command::Store { action } => commands::store::store(action, out),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a write error (a
            // closed pipe), and `out` reports one instead.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "lumbar", &mut script);
            out.write_all(&script)?;
            Ok(0)
        }
        Command::Tables => commands::tables::tables(out),
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(out)?;
            Ok(0)
        }
        Command::Run(args) => commands::batch::run_batch(args, ui.quiet, out),
        Command::Report(args) => commands::report::report(args, &args.regimen.load()?, out),
        Command::Simulate(args) => commands::simulate::simulate_cmd(args, &ui, out),
        Command::Calibrate(args) => commands::calibrate::calibrate(args, &ui, out),
        Command::Replay(args) => commands::replay::replay(args, out),
        Command::Merge(args) => commands::compare::merge_cmd(args, out),
        Command::Compare(args) => commands::compare::compare_cmd(args, out),
        Command::Analyze(args) => commands::analyze::analyze(args, &args.regimen.load()?, &ui, out),
    }
}

/// `--regimen FILE`, on the commands that read a regimen (generate,
/// ingest, analyze, report); the others do not take it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegimenArg {
    /// Regimen file (TOML). Default: datasets/regimens/six-moves.toml if present, else the built-in copy.
    #[arg(long, value_name = "FILE")]
    pub regimen: Option<PathBuf>,
}

impl RegimenArg {
    /// The regimen named, or the default one.
    pub fn load(&self) -> Result<Regimen> {
        load_regimen(self.regimen.as_deref())
    }
}

/// Loads the regimen named on the command line, or the default one.
pub fn load_regimen(path: Option<&Path>) -> Result<Regimen> {
    match path {
        Some(p) => Ok(Regimen::load(p)?),
        None => {
            let default = Path::new(DEFAULT_REGIMEN_PATH);
            if default.exists() {
                Ok(Regimen::load(default)?)
            } else {
                Ok(Regimen::six_moves())
            }
        }
    }
}

/// How the command talks to a person on stderr.
pub struct Ui {
    pub quiet: bool,
}

impl Ui {
    /// A progress bar for `total` units, hidden when quiet or not a terminal.
    pub fn progress(&self, total: u64, what: &str) -> indicatif::ProgressBar {
        if self.quiet {
            return indicatif::ProgressBar::hidden();
        }
        // Cleared however the work ends (an error too), so no stale line
        // is left above the next output.
        let bar =
            indicatif::ProgressBar::new(total).with_finish(indicatif::ProgressFinish::AndClear);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {human_pos}/{human_len} {per_sec} {elapsed_precise}, {eta} left",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar
    }

    /// A spinner with a message, for work of unknown length.
    pub fn spinner(&self, what: &str) -> indicatif::ProgressBar {
        if self.quiet {
            return indicatif::ProgressBar::hidden();
        }
        let bar =
            indicatif::ProgressBar::new_spinner().with_finish(indicatif::ProgressFinish::AndClear);
        bar.set_prefix(what.to_string());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{prefix} {spinner} {msg} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    }

    pub fn note(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}
