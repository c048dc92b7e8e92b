//! `ikp client ...` and `ikp keys ...`: administration of the authorization server, straight on
//! the database (the server need not run).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::auth::clients::{self, ClientType, NewClient};
use crate::store;

#[derive(Debug, Clone, Subcommand)]
pub enum ClientCommand {
    /// Register a client application.
    Add(ClientAddArgs),
    /// List registered clients.
    List(DatabaseArgs),
    /// Remove a client and revoke everything it was granted.
    Remove(ClientRemoveArgs),
    /// Issue an access token for a registered client acting for a user, without a login: for
    /// operators' checks and load measurement. Needs the database, like every command here.
    Token(ClientTokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ClientTokenArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[arg(long)]
    pub client_id: String,
    /// The user, as a FHIR reference (`Patient/123`, `Practitioner/7`); none for a backend token.
    #[arg(long)]
    pub fhir_user: Option<String>,
    /// The patient in context (an id), for `patient/` scopes.
    #[arg(long)]
    pub patient: Option<String>,
    /// The scopes to grant (space-separated); they must be within the client's allowed scopes.
    #[arg(long)]
    pub scopes: String,
    /// Lifetime in minutes (at most 60).
    #[arg(long, default_value_t = 60)]
    pub minutes: i64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the old one stays published until its tokens expire.
    Rotate(DatabaseArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    #[arg(long, env = "IKP_DATABASE_URL", default_value = super::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ClientAddArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[arg(long)]
    pub client_id: String,
    /// public, symmetric (client_secret_basic) or asymmetric (private_key_jwt).
    #[arg(long = "type", value_parser = ["public", "symmetric", "asymmetric"])]
    pub client_type: String,
    /// An exact redirect URI (repeatable).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    #[arg(long)]
    pub launch_uri: Option<String>,
    /// The client secret (symmetric clients; at least 16 characters).
    #[arg(long)]
    pub secret: Option<String>,
    /// A file with the client's public JWKS (asymmetric clients).
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// A URL the client's public JWKS is fetched from (asymmetric clients).
    #[arg(long)]
    pub jwks_url: Option<String>,
    /// The scopes the client may be granted at most (space-separated).
    #[arg(long)]
    pub scopes: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ClientRemoveArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[arg(long)]
    pub client_id: String,
}

pub async fn run_client(command: &ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add(args) => {
            let store = store::open(&args.database.database_url).await?;
            let jwks = match &args.jwks {
                Some(path) => Some(
                    serde_json::from_str(
                        &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
                    )
                    .context("the JWKS file is not JSON")?,
                ),
                None => None,
            };
            let client = NewClient {
                client_id: args.client_id.clone(),
                client_type: ClientType::parse(&args.client_type).context("unknown client type")?,
                secret: args.secret.clone(),
                redirect_uris: args.redirect_uris.clone(),
                launch_uri: args.launch_uri.clone(),
                jwks,
                jwks_url: args.jwks_url.clone(),
                scopes: args.scopes.clone(),
            };
            let result = clients::add(store.as_ref(), &client).await;
            store.close().await;
            result?;
            println!("registered client {}", args.client_id);
        }
        ClientCommand::List(args) => {
            let store = store::open(&args.database_url).await?;
            let list = clients::list(store.as_ref()).await;
            store.close().await;
            for c in list? {
                println!("{}\t{}\t{}\t{}", c.client_id, c.client_type.name(), c.redirect_uris.join(","), c.scopes);
            }
        }
        ClientCommand::Token(args) => {
            let store = store::open(&args.database.database_url).await?;
            let token = issue_token(store.as_ref(), args).await;
            store.close().await;
            println!("{}", token?);
        }
        ClientCommand::Remove(args) => {
            let store = store::open(&args.database.database_url).await?;
            let removed = clients::remove(store.as_ref(), &args.client_id).await;
            store.close().await;
            if !removed? {
                anyhow::bail!("no client '{}'", args.client_id);
            }
            println!("removed client {} and revoked its grants", args.client_id);
        }
    }
    Ok(())
}

async fn issue_token(store: &dyn store::Store, args: &ClientTokenArgs) -> anyhow::Result<String> {
    use crate::access::scopes::Scopes;
    use crate::auth::grants::{self, GrantContext, TokenKind};
    let client =
        clients::get(store, &args.client_id).await?.with_context(|| format!("no client '{}'", args.client_id))?;
    let requested = Scopes::parse(&args.scopes);
    let scopes = requested.within(&Scopes::parse(&client.scopes));
    if scopes.is_empty() || scopes.to_string() != requested.to_string() {
        anyhow::bail!("the client may be granted only: {}", client.scopes);
    }
    let context = GrantContext {
        subject: args.fhir_user.as_ref().map(|u| format!("cli:{u}")),
        fhir_user: args.fhir_user.clone(),
        patient: args.patient.clone(),
        encounter: None,
    };
    let grant = grants::create_grant(store, &client.client_id, context, &scopes).await?;
    Ok(grants::issue(store, &grant, TokenKind::Access, &scopes, args.minutes.clamp(1, 60) * 60).await?)
}

pub async fn run_keys(command: &KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate(args) => {
            let store = store::open(&args.database_url).await?;
            let kid = crate::auth::keys::rotate(store.as_ref()).await;
            store.close().await;
            println!("now signing with key {}", kid?);
        }
    }
    Ok(())
}
