//! `ikp snapshot FILE... --out DIR`: writes each profile with its snapshot generated from the
//! differential (how `profiles/snapshots/` is regenerated).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::validation::snapshot::{Bases, generate};

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// StructureDefinition files with differentials.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Folder for the StructureDefinitions with snapshots (same file names).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &SnapshotArgs) -> anyhow::Result<()> {
    let bases = Bases::r4()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    for file in &args.files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let profile: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        let with_snapshot = generate(&bases, &profile)?;
        let name = file.file_name().context("a file name")?;
        let target = args.out.join(name);
        std::fs::write(&target, serde_json::to_string_pretty(&with_snapshot)? + "\n")
            .with_context(|| format!("writing {}", target.display()))?;
    }
    println!("{} snapshots written to {}", args.files.len(), args.out.display());
    Ok(())
}
