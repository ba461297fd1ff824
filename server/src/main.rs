//! The `gatebell` command: `serve`, `user add`, `vapid generate`, `seed`.

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};
use gatebell_core::protocol::Role;
use gatebell_server::config::{Config, ServeArgs};
use gatebell_server::db::Db;
use gatebell_server::db::seed::{self, Community};
use gatebell_server::http::accounts::{DEMO_ACCOUNTS, DEMO_PASSWORD, NewUser, create_user};

#[derive(Parser)]
#[command(
    name = "gatebell",
    version,
    about = "Visitor-arrival notifications for gated communities"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// VAPID keys for Web Push.
    #[command(subcommand)]
    Vapid(VapidCommand),
    /// Fill a database with N communities' worth of rows, for benchmarks and sizing (never a
    /// production database: the rows are made up).
    Seed {
        /// Communities to add (each: 1 000 residents, 2 500 devices, 20 000 visits, 100 000
        /// inbox entries and closed outbox rows).
        #[arg(long, default_value_t = 1)]
        communities: i64,
        /// The number of the first one, to add to a database seeded before.
        #[arg(long, default_value_t = 0)]
        first: i64,
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "sqlite://gatebell.db?mode=rwc"
        )]
        database_url: String,
    },
}

#[derive(Subcommand)]
enum VapidCommand {
    /// Print a new key pair (pass the private key as --vapid-private-key).
    Generate,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is prompted for, or read from standard input.
    Add {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The resident's flat, such as A-101 (created when new).
        #[arg(long)]
        unit: Option<String>,
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "sqlite://gatebell.db?mode=rwc"
        )]
        database_url: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "resident, guard or admin".to_string())
}

fn main() -> anyhow::Result<()> {
    gatebell_server::access::throttle::release_large_blocks();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gatebell_server=info,tower_http=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::Vapid(VapidCommand::Generate) => {
            let k = gatebell_server::channels::webpush::VapidKeys::generate();
            println!("GATEBELL_VAPID_PRIVATE_KEY={}", k.private_key);
            println!("public key (applicationServerKey): {}", k.public_key);
            Ok(())
        }
        Command::Seed {
            communities,
            first,
            database_url,
        } => seed(&database_url, first, communities).await,
        Command::User(UserCommand::Add {
            role,
            email,
            name,
            unit,
            database_url,
        }) => {
            let password = read_password()?;
            let db = Db::connect(&database_url).await?;
            let id = create_user(
                &db,
                NewUser {
                    name,
                    email: email.clone(),
                    password,
                    role,
                    unit,
                },
            )
            .await?;
            println!("created {} {email} ({id})", role.as_str());
            Ok(())
        }
    }
}

async fn seed(database_url: &str, first: i64, communities: i64) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&communities) && (0..100).contains(&(first / 100)),
        "--communities 1 to 10000, --first 0 to 9999"
    );
    let db = Db::connect(database_url).await?;
    let started = std::time::Instant::now();
    let totals = seed::seed(&db, first, communities, &Community::default(), |s| {
        eprintln!("  {:<14} {:>9} rows in {:.2} s", s.table, s.rows, s.seconds);
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let rows: u64 = totals.iter().map(|t| t.rows).sum();
    for t in &totals {
        println!("{:<14} {:>11} rows {:>8.1} s", t.table, t.rows, t.seconds);
    }
    println!(
        "{communities} communities: {rows} rows in {seconds:.1} s = {:.0} rows a minute",
        rows as f64 / seconds * 60.0
    );
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(p == again, "the passwords differ");
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let demo = args.store.demo;
    gatebell_server::http::listener::raise_open_files_limit();
    let server = gatebell_server::start(Config::from_args(args)?).await?;
    if demo {
        println!("Demo community (password for all: {DEMO_PASSWORD}):");
        for a in DEMO_ACCOUNTS {
            println!(
                "  {:<9} {:<24} {}{}",
                a.role.as_str(),
                a.email,
                a.name,
                a.unit.map(|u| format!(" ({u})")).unwrap_or_default()
            );
        }
    }
    println!("Gatebell listening on {}", server.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
