//! `sitegate account add|list`: local accounts from the command line, for the first
//! installer or when nobody can log in. Owns reading the password (the first line of standard
//! input, so it never shows in `ps` or the shell's history) and the exit codes: 0 done, 64 an
//! invalid configuration, 65 refused (password policy, taken username, last installer), 1 any
//! other failure. Never writes SQL: changes go through the store's writer (`Write::Account`),
//! whose transaction takes the write lock first and waits up to 5 s for it, so the command
//! also works while the daemon runs (SQLite in WAL mode: the daemon's writer waits for this
//! short transaction or the other way round).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};

use super::password;
use crate::clock::Clock;
use crate::config;
use crate::store::accounts::{self, AccountAction, AccountChange, NewAccount};
use crate::store::roles::Role;
use crate::store::{self, StoreError, StoreHandle, StoreSetup, Write};

/// Exit code of a refused account change.
pub const EXIT_REFUSED: u8 = 65;

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Create an account. The password is read from the first line of standard input.
    Add(AddArgs),
    /// List the accounts: username, role, state, end date, name.
    List {
        #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
        config: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
    pub config: PathBuf,
    #[arg(long)]
    pub username: String,
    /// installer, manager or viewer.
    #[arg(long)]
    pub role: Role,
    /// The name shown (default: the username).
    #[arg(long)]
    pub name: Option<String>,
    /// Last day the account works (YYYY-MM-DD, in the site's time zone).
    #[arg(long)]
    pub active_until: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountCliError {
    #[error("{path}: {problems}")]
    Config {
        path: PathBuf,
        problems: crate::problems::Problems,
    },
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl AccountCliError {
    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AccountCliError::Config { .. } => config::EXIT_INVALID_CONFIG as u8,
            AccountCliError::Refused(_) | AccountCliError::Store(StoreError::Rejected(_)) => {
                EXIT_REFUSED
            }
            _ => 1,
        }
    }
}

/// Runs the command; what it reports goes to `out`, the password comes from `input`.
pub fn run(
    cmd: &AccountCommand,
    input: &mut dyn BufRead,
    out: &mut dyn std::io::Write,
) -> Result<(), AccountCliError> {
    match cmd {
        AccountCommand::Add(args) => add(args, input, out),
        AccountCommand::List { config } => list(config, out),
    }
}

fn load(path: &Path) -> Result<config::Config, AccountCliError> {
    config::load(path).map_err(|problems| AccountCliError::Config {
        path: path.to_path_buf(),
        problems,
    })
}

fn add(
    args: &AddArgs,
    input: &mut dyn BufRead,
    out: &mut dyn std::io::Write,
) -> Result<(), AccountCliError> {
    let config = load(&args.config)?;
    if let Some(problem) = accounts::username_problem(&args.username) {
        return Err(AccountCliError::Refused(problem));
    }
    let mut line = String::new();
    input.read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        return Err(AccountCliError::Usage(
            "give the password on the first line of standard input".into(),
        ));
    }
    password::check(pw, &args.username).map_err(|e| AccountCliError::Refused(e.to_string()))?;
    let active_until_ms = args
        .active_until
        .map(|day| end_of_day_ms(day, config.site.time_zone))
        .transpose()?;
    let password_hash = password::hash(pw).map_err(|e| AccountCliError::Usage(e.to_string()))?;
    let clock = Clock::detect();
    let at = clock.now();
    let change = AccountChange {
        actor: "cli".into(),
        at,
        action: AccountAction::Create(NewAccount {
            username: args.username.clone(),
            display_name: args.name.clone().unwrap_or_default(),
            role: args.role,
            password_hash,
            active_until_ms,
            language: None,
        }),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let setup = StoreSetup::for_site(&config, "account-cli", &clock);
        let (handle, _, thread) = StoreHandle::start(setup)?;
        let result = handle.apply(vec![Write::Account(Box::new(change))]).await;
        drop(handle);
        let _ = thread.join();
        result
    })?;
    writeln!(out, "account `{}` created ({})", args.username, args.role)?;
    Ok(())
}

/// The first instant after `day` in the site's time zone.
fn end_of_day_ms(day: NaiveDate, tz: chrono_tz::Tz) -> Result<i64, AccountCliError> {
    day.succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|midnight| tz.from_local_datetime(&midnight).earliest())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| AccountCliError::Usage(format!("{day} has no end in {tz}")))
}

fn list(path: &Path, out: &mut dyn std::io::Write) -> Result<(), AccountCliError> {
    let config = load(path)?;
    let db = config.state_dir.join(store::DB_FILE);
    let all = if db.exists() {
        accounts::list(&store::open_reader(&db)?)?
    } else {
        Vec::new()
    };
    if all.is_empty() {
        writeln!(out, "no account")?;
        return Ok(());
    }
    let now_ms = Clock::detect().now().wall_ms;
    let tz = config.site.time_zone;
    for a in all {
        let state = if !a.active {
            "inactive"
        } else if a.may_log_in(now_ms) {
            "active"
        } else {
            "expired"
        };
        let until = a
            .active_until_ms
            .and_then(|ms| tz.timestamp_millis_opt(ms - 1).single())
            .map_or("-".to_string(), |t| {
                format!("until {}", t.format("%Y-%m-%d"))
            });
        writeln!(
            out,
            "{}\t{}\t{state}\t{until}\t{}",
            a.username, a.role, a.display_name
        )?;
    }
    Ok(())
}
