//! `ikp synth`: a deterministic generator of a synthetic Polish patient population for
//! benchmarks, bulk import and demo data. The same seed and patient count give byte-identical
//! output; nothing depends on the wall clock. Patients are generated one household at a time,
//! so output streams and memory stays flat for any population size.
//!
//! Library use (no files): [`Synth::new`], then [`Synth::shared_resources`] (organisations,
//! locations, practitioners, NFZ branches; load first) and [`Synth::patients`] (one
//! [`PatientRecord`] per patient with all of that patient's resources).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

pub mod calendar;
pub mod identifiers;
pub mod pesel;

mod care;
mod catalog;
mod clinical;
mod facilities;
pub mod fhir;
mod history;
mod imaging;
mod names;
mod output;
mod population;
mod rng;

use calendar::Day;
use facilities::Layout;
use population::{Census, Household};

pub use output::{full_url, transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One file per resource type (`Patient.ndjson`, ...), one resource per line.
    Ndjson,
    /// One transaction Bundle per patient (`bundle-000001.json`) plus `bundle-shared.json`.
    Bundles,
    /// Both of the above.
    Both,
}

#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// Number of patients to generate.
    #[arg(long, default_value_t = 100)]
    pub patients: usize,
    /// Random seed; the same seed and patient count give byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing; files of the same name are overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    pub format: Format,
    /// First day of the recorded history (YYYY-MM-DD).
    #[arg(long, default_value = "2015-01-01", value_parser = parse_day)]
    pub start_date: Day,
    /// The population's "today" (YYYY-MM-DD): ages are computed and histories end here.
    #[arg(long, default_value = "2025-12-31", value_parser = parse_day)]
    pub end_date: Day,
}

fn parse_day(s: &str) -> Result<Day, String> {
    Day::parse(s).ok_or_else(|| format!("'{s}' is not a date (YYYY-MM-DD)"))
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub patients: usize,
    pub seed: u64,
    /// First day of recorded history.
    pub start: Day,
    /// Reference date: no event happens after it.
    pub end: Day,
}

impl Config {
    /// `patients` patients with history from 2015-01-01 to the reference date 2025-12-31.
    pub fn new(patients: usize, seed: u64) -> Config {
        Config {
            patients,
            seed,
            start: Day::from_ymd(2015, 1, 1).unwrap_or(Day(16_436)),
            end: Day::from_ymd(2025, 12, 31).unwrap_or(Day(20_453)),
        }
    }
}

/// One patient and every resource that belongs to them (Patient first, then RelatedPersons,
/// Coverage and the clinical history in date order). References are `Type/id`.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    /// 1-based patient number (`pat-000001` is number 1).
    pub number: usize,
    pub id: String,
    pub household: usize,
    pub resources: Vec<Value>,
}

/// A population: its shared layout (facilities and staff) and a way to draw its patients.
pub struct Synth {
    config: Config,
    layout: Layout,
}

impl Synth {
    pub fn new(config: Config) -> Synth {
        Synth { layout: Layout::new(config.seed, config.patients), config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// NFZ branches, Organizations, Locations, Practitioners and PractitionerRoles.
    pub fn shared_resources(&self) -> Vec<Value> {
        self.layout.resources(self.config.seed)
    }

    /// The patients, generated lazily in order.
    pub fn patients(&self) -> Patients<'_> {
        Patients {
            synth: self,
            census: Census::new(self.config.seed, self.config.end),
            household: None,
            member: 0,
            households: 0,
            emitted: 0,
        }
    }
}

/// Shared resources of the population described by `config`.
pub fn shared_resources(config: &Config) -> Vec<Value> {
    Synth::new(*config).shared_resources()
}

/// The patients of the population described by `config`, generated lazily.
pub fn population(config: &Config) -> impl Iterator<Item = PatientRecord> {
    let synth = Synth::new(*config);
    let mut census = Census::new(config.seed, config.end);
    let mut household: Option<Household> = None;
    let mut member = 0;
    let mut households = 0;
    (1..=config.patients)
        .map(move |number| next_record(&synth, &mut census, &mut household, &mut member, &mut households, number))
}

pub struct Patients<'a> {
    synth: &'a Synth,
    census: Census,
    household: Option<Household>,
    member: usize,
    households: usize,
    emitted: usize,
}

impl Patients<'_> {
    /// Households drawn so far.
    pub fn households(&self) -> usize {
        self.households
    }
}

impl Iterator for Patients<'_> {
    type Item = PatientRecord;

    fn next(&mut self) -> Option<PatientRecord> {
        if self.emitted >= self.synth.config.patients {
            return None;
        }
        self.emitted += 1;
        Some(next_record(
            self.synth,
            &mut self.census,
            &mut self.household,
            &mut self.member,
            &mut self.households,
            self.emitted,
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.synth.config.patients - self.emitted;
        (left, Some(left))
    }
}

fn next_record(
    synth: &Synth,
    census: &mut Census,
    household: &mut Option<Household>,
    member: &mut usize,
    households: &mut usize,
    number: usize,
) -> PatientRecord {
    let layout = &synth.layout;
    let config = &synth.config;
    let home = loop {
        match household {
            Some(h) if *member < h.members.len() => break h,
            _ => {
                *household = Some(census.household(layout, *households));
                *households += 1;
                *member = 0;
            }
        }
    };
    let person = &home.members[*member];
    *member += 1;
    let id = format!("pat-{number:06}");
    let mut resources = vec![population::patient(layout, home, person, &id, number, config.end)];
    let related = population::related_persons(home, person, &id, number);
    let subscriber = related.first().map(|(rp, _)| rp.clone());
    resources.extend(related.into_iter().map(|(_, r)| r));
    resources.push(population::coverage(home, person, &id, number, subscriber.as_deref()));
    let history = history::History::new(config.seed, layout, home, person, &id, number, config.start, config.end);
    resources.extend(history.run());
    PatientRecord { number, id, household: home.index, resources }
}

/// Counts and settings of a generated population (also written as `summary.json`).
#[derive(Debug, Clone)]
pub struct Summary {
    pub patients: usize,
    pub households: usize,
    pub resources: usize,
    pub seconds: f64,
    pub json: Value,
}

/// `ikp synth`: generates the population and writes it to `args.out`.
pub fn run(args: &SynthArgs) -> anyhow::Result<Summary> {
    if args.start_date >= args.end_date {
        bail!("--start-date {} must be before --end-date {}", args.start_date, args.end_date);
    }
    let config = Config { patients: args.patients, seed: args.seed, start: args.start_date, end: args.end_date };
    let started = Instant::now();
    let (ndjson, bundles) = match args.format {
        Format::Ndjson => (true, false),
        Format::Bundles => (false, true),
        Format::Both => (true, true),
    };
    let mut out = output::Output::create(&args.out, ndjson, bundles, config.seed)?;
    let synth = Synth::new(config);
    out.shared(synth.shared_resources())?;
    let mut patients = synth.patients();
    let (mut min, mut max, mut sum) = (usize::MAX, 0usize, 0usize);
    for record in patients.by_ref() {
        let n = record.resources.len();
        min = min.min(n);
        max = max.max(n);
        sum += n;
        out.patient(record.number, record.resources)?;
    }
    let households = patients.households();
    let total: usize = out.counts.values().sum();
    let mean = if config.patients > 0 { sum as f64 / config.patients as f64 } else { 0.0 };
    let format = match args.format {
        Format::Ndjson => "ndjson",
        Format::Bundles => "bundles",
        Format::Both => "both",
    };
    let summary = json!({
        "generator": "ikp synth",
        "seed": config.seed,
        "patients": config.patients,
        "households": households,
        "startDate": config.start.to_string(),
        "endDate": config.end.to_string(),
        "format": format,
        "total": total,
        "resources": out.counts,
        "shared": out.shared,
        "perPatient": {"mean": fhir::decimal(mean, 1), "min": if config.patients > 0 { min } else { 0 }, "max": max}
    });
    out.finish(&summary)?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "ikp synth: {} patients ({households} households), {total} resources in {seconds:.2} s ({:.0} patients/s, {:.0} resources/s) -> {}",
        config.patients,
        config.patients as f64 / seconds.max(1e-9),
        total as f64 / seconds.max(1e-9),
        args.out.display()
    );
    Ok(Summary { patients: config.patients, households, resources: total, seconds, json: summary })
}
