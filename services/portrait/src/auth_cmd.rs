//! `portrait auth new-key`: a fresh API key, printed once, and the line of
//! `auth.api_keys` that lets it in (only its hash is configured).

use clap::{Args, Subcommand, ValueEnum};
use portrait_auth::Role;

#[derive(Subcommand)]
pub(crate) enum AuthCommand {
    /// Print a fresh token and the `auth.api_keys` entry to paste.
    NewKey(NewKeyArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyRole {
    Viewer,
    Analyst,
    Admin,
}

#[derive(Args)]
pub(crate) struct NewKeyArgs {
    /// What the key may do: viewer (aggregates, suggestions), analyst
    /// (+ customer lists and details), admin (+ sync, imports, adopting, refits).
    #[arg(long, value_enum)]
    role: KeyRole,
    /// Limit the key to these stores (repeatable).
    #[arg(long = "store")]
    stores: Vec<String>,
    /// Limit the key to these cities (repeatable).
    #[arg(long = "city")]
    cities: Vec<String>,
    /// Who holds the key: logged with every refusal.
    #[arg(long, default_value = "key")]
    name: String,
}

pub(crate) fn run(command: AuthCommand) -> anyhow::Result<()> {
    match command {
        AuthCommand::NewKey(args) => {
            let role = match args.role {
                KeyRole::Viewer => Role::Viewer,
                KeyRole::Analyst => Role::Analyst,
                KeyRole::Admin => Role::Admin,
            };
            let key = portrait_auth::new_key();
            println!("token (give it to its holder; it is not stored anywhere):");
            println!("{}", key.token);
            println!();
            println!("add to auth.api_keys in the configuration (or the Kubernetes Secret):");
            println!(
                "{}",
                portrait_auth::config_line(
                    &args.name,
                    &key.sha256,
                    role,
                    &args.stores,
                    &args.cities
                )
            );
            Ok(())
        }
    }
}
