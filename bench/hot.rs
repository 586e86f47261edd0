//! Criterion benches of the hot functions, on a generated log of 2,000 users over 182 days
//! (about 380,000 events; the same generator as `churnrisk generate`):
//!
//!   cargo bench --bench hot                 # all
//!   cargo bench --bench hot -- features     # one group
//!
//! Whole-job speed and memory against pandas and DuckDB are in bench/speed.sh.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use churnrisk::features::{self, FeatureSpec};
use churnrisk::generate::{generate, EventFormat, GenerateConfig};
use churnrisk::ingest::{self, ReadPolicy, Rejects, Shard};
use churnrisk::labels::{self, Sources};
use churnrisk::list::rank::{order, rank, TierRule};
use churnrisk::model::{score, ChurnModel};

const AS_OF: &str = "2026-07-06";

fn sample(dir: &Path, format: EventFormat) -> std::path::PathBuf {
    let cfg = GenerateConfig {
        users: 2000,
        days: 182,
        format,
        ..GenerateConfig::default()
    };
    generate(&cfg, dir).expect("generate");
    dir.join(format.file_name())
}

fn benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = sample(&dir.path().join("csv"), EventFormat::Csv);
    let parquet = sample(&dir.path().join("parquet"), EventFormat::Parquet);
    let policy = ReadPolicy::new(chrono::Utc::now().timestamp_millis());
    let spec = FeatureSpec::load(&root.join("features/default.toml")).expect("features");
    let model = ChurnModel::load(&root.join("models/sample.json")).expect("model");
    let as_of = churnrisk::base::time::parse_date(AS_OF).expect("date");

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.bench_function("load_events csv (checked reader, dedup)", |b| {
        b.iter(|| ingest::load_events(&csv, &policy, &mut Rejects::default()).expect("load"))
    });
    g.bench_function("load_events parquet", |b| {
        b.iter(|| ingest::load_events(&parquet, &policy, &mut Rejects::default()).expect("load"))
    });
    g.bench_function("load_events parquet, shard 1/4 (streaming scan)", |b| {
        let how = ingest::EventsRead {
            shard: Some(Shard { index: 1, count: 4 }),
            ..Default::default()
        };
        b.iter(|| {
            ingest::load_events_with(&parquet, &how, &policy, &mut Rejects::default())
                .expect("load")
        })
    });
    g.finish();

    let events = ingest::load_events(&parquet, &policy, &mut Rejects::default()).expect("load");
    let src = Sources {
        events: &events,
        users: None,
        subscriptions: None,
        prepared: None,
    };
    let pop = labels::population(&src, &model.label, as_of).expect("population");
    let mut g = c.benchmark_group("features");
    g.sample_size(10);
    g.bench_function("prepare (events grouped by user)", |b| {
        b.iter(|| features::prepare(&events, &spec).expect("prepare"))
    });
    g.bench_function("compute (one as-of date)", |b| {
        let prepared = features::prepare(&events, &spec).expect("prepare");
        b.iter(|| {
            features::compute(&prepared, &pop, as_of, &spec, &model.event_types).expect("features")
        })
    });
    g.bench_function("score (population, features, model, reasons)", |b| {
        b.iter(|| score(&src, &spec, &model, as_of).expect("score"))
    });
    g.finish();

    let scored = score(&src, &spec, &model, as_of).expect("score");
    let tiers = TierRule::default();
    let rows = rank(&scored, &spec, None, &tiers).expect("rank");
    let mut g = c.benchmark_group("list");
    g.bench_function("order (sort, rank, tiers)", |b| {
        b.iter_batched(
            || rows.clone(),
            |mut r| order(&mut r, &tiers),
            criterion::BatchSize::SmallInput,
        )
    });
    let ids: Vec<String> = (0..100_000).map(|i| format!("user-{i}")).collect();
    g.bench_function("Shard::of (100k ids)", |b| {
        b.iter(|| ids.iter().map(|u| Shard::of(u, 8) as u64).sum::<u64>())
    });
    g.finish();
}

criterion_group!(hot, benches);
criterion_main!(hot);
