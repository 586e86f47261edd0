//! `churnrisk run`: the whole night — lock the output folder, load, decide whether to
//! retrain (and why), train if so, score, write the ranked list and the run manifest.
//! With `--config` the settings come from the file; without, from flags that default to
//! the shipped sample.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};
use tracing::{info, warn};

use churnrisk::base::time::{format_date, DAY_MS};
use churnrisk::error::Error;
use churnrisk::features::{self, Prepared};
use churnrisk::list::accounts::{roll_up, write_accounts};
use churnrisk::list::crm::{write_hubspot, write_salesforce, CrmExport};
use churnrisk::list::experiment::Group;
use churnrisk::list::history;
use churnrisk::list::rank::{assign_groups, crm_lookup, empty_list_note, rank, RankedRow, Tier};
use churnrisk::list::summary::{ranked_summary, training_summary};
use churnrisk::list::write::{write_csv, write_jsonl, write_parquet};
use churnrisk::model::drift::{Drift, DriftLevel, Thresholds};
use churnrisk::model::policy::{check_population, retrain_reason};
use churnrisk::model::{score_prepared, train_prepared, ChurnModel, Scored, TrainOptions};
use churnrisk::run::config::{OutputFormat, RunConfig, SAMPLE_MODEL_PATH};
use churnrisk::run::lock::RunLock;
use churnrisk::run::manifest::ListSummary;
use churnrisk::run::manifest::{Failure, FileEntry, ModelUsed, RunManifest, TierCounts};
use churnrisk::run::publish::Night;
use churnrisk::run::settings::{find_events, AsOf, ListSettings, SampleChoices, Settings};

use super::late::Lateness;
use super::{check_fraction, list_from, logging, Inputs};
use crate::cli::{InputArgs, RunArgs, ValidationArgs, SAMPLE_DATA, SAMPLE_FEATURES};

/// Runs the night under the output folder's lock. Whatever happens after the lock is
/// taken, `manifest.json` says how the run ended; a failed run replaces no list.
pub fn run(args: RunArgs) -> Result<()> {
    let started_at = now_text();
    let s = settings(&args)?;
    let _lock = RunLock::acquire(&s.out)?;
    let mut manifest = RunManifest::begin(started_at);
    // Every output is staged, then published at once (`churnrisk::run::publish`).
    let result = Night::begin(&s.out)
        .map_err(anyhow::Error::from)
        .and_then(|staged| {
            // A model trained tonight is written beside its place before the night is
            // published (a full disk fails the night unpublished), and replaces the one on
            // disk only once it is: a night that fails leaves yesterday's model too.
            let outcome =
                night(&args, &s, &staged, &mut manifest).and_then(|(summary, trained)| {
                    let model = trained
                        .map(|(path, bytes)| {
                            churnrisk::base::files::stage_file(&path, &bytes)
                                .with_context(|| format!("writing model {}", path.display()))
                        })
                        .transpose()?;
                    Ok((summary, model))
                });
            match outcome {
                Ok((summary, model)) => {
                    staged
                        .commit()
                        .with_context(|| format!("publishing the night in {}", s.out.display()))?;
                    if let Some(model) = model {
                        model.put().context("writing the model")?;
                    }
                    Ok(summary)
                }
                Err(e) => {
                    // The reject file stays: the failure message points to it.
                    staged.abandon(&["rejects.csv"]);
                    Err(e)
                }
            }
        });
    // Published: the list committed and a model trained tonight put in its place.
    let published = result.is_ok();
    // A failed night says so in its first words, whatever failed: the on-call reader
    // learns which night and that yesterday's list is still the one out.
    let result = result.map_err(|e| {
        // A late log's refusal says it already (its advice ends "Nothing was published").
        let late = e
            .chain()
            .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::LogLate { .. })));
        if late {
            return e;
        }
        let night = match &s.as_of {
            AsOf::Given(date) => format!("the night of {date}"),
            AsOf::Today => format!(
                "the night of {}",
                format_date(Utc::now().timestamp_millis())
            ),
            AsOf::AfterLog => "tonight's run".into(),
        };
        e.context(format!(
            "{night} failed and published nothing (the last list stays)"
        ))
    });
    let result = result.and_then(|summary| {
        if !logging::is_quiet() {
            crate::cmd::say!("{summary}")?;
        }
        info!("lists written to {}", s.out.display());
        Ok(())
    });
    if let Err(err) = &result {
        manifest.status = "failed".into();
        manifest.exit_code = crate::exit_code(err);
        manifest.error = Some(Failure {
            kind: err
                .chain()
                .find_map(|e| e.downcast_ref::<Error>())
                .map(Error::kind)
                .unwrap_or("internal")
                .into(),
            message: crate::error_message(err),
        });
        if !published {
            manifest.outputs.clear();
            // What the night computed stays for a look; a model it trained was not written.
            if let Some(model) = manifest.model.as_mut().filter(|m| m.retrained) {
                model.written = false;
            }
        }
        manifest.finished_at = now_text();
        let path = s.out.join("manifest.json");
        if let Err(e) = manifest.write(&path) {
            warn!("could not write {}: {e}", path.display());
        }
    }
    result
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Stage timings for the manifest.
struct Stopwatch(Instant);

impl Stopwatch {
    fn lap(&mut self, m: &mut RunManifest, stage: &str) {
        m.timings_ms
            .insert(stage.into(), self.0.elapsed().as_millis() as u64);
        self.0 = Instant::now();
    }
}

/// A model trained tonight: where it goes and its file's bytes.
type Trained = Option<(PathBuf, Vec<u8>)>;

/// The night, staged in `staged`; returns the terminal summary to print once published,
/// and the model trained tonight, to write once the night is published.
fn night(
    args: &RunArgs,
    s: &Settings,
    staged: &Night,
    m: &mut RunManifest,
) -> Result<(String, Trained)> {
    let mut clock = Stopwatch(Instant::now());
    let input = input_args(s);
    let (inputs, stopped) = load_inputs(s, &input, staged, m)?;
    let as_of = night_date(s, &inputs)?;
    m.as_of = Some(format_date(as_of));
    info!("as of {}", format_date(as_of));
    let late = Lateness {
        allowed: s.inputs.max_missing_days,
        refuse: s.as_of == AsOf::Today,
        how_to_allow: "`[inputs] max_missing_days` (or --max-missing-days)",
        consequence: super::late::NOTHING_PUBLISHED,
    };
    let cut = late.check(&inputs, as_of)?;
    clock.lap(m, "load");
    // A night whose drift is of the log's own making: retraining on it would learn that.
    let hold = if cut {
        Some("the log's last day looks cut short (above), so the model is kept tonight")
    } else if stopped {
        Some("an event type the feature definitions name has stopped (above): retraining on them would learn the stop, so the model is kept tonight; update the definitions")
    } else {
        None
    };
    // The log regrouped by user once, for scoring with the kept model, training and
    // scoring with the new one alike (timed with them).
    let prepared = features::prepare(&inputs.events, &inputs.spec)?;
    let tonight = model_for_night(args, s, &inputs, &prepared, as_of, hold)?;
    m.model = Some(tonight.used()?);
    m.drift = tonight.drift.clone();
    clock.lap(m, "model_and_score");

    let spec = tonight.model.resolve(&inputs.spec)?;
    let mut rows = rank(&tonight.scored, &spec, inputs.users.as_ref(), &s.list.tiers)?;
    if let Some(note) = empty_list_note(&rows, s.list.list_tier, &s.list.tiers) {
        warn!("{note}");
    }
    assign_groups(&mut rows, &s.list.split);
    let summary = publish(s, staged, &inputs, &mut rows, &format_date(as_of), m)?;
    let rejects = usize::try_from(inputs.rejects.total()).ok();
    m.outputs.push(staged_entry(
        staged,
        "rejects",
        &staged.path("rejects.csv"),
        rejects,
    )?);
    clock.lap(m, "write");
    finish_manifest(m, &rows, summary, s, staged)?;
    Ok((
        ranked_summary(&rows, &format_date(as_of), 10),
        tonight.trained,
    ))
}

/// Reads the inputs, stages the reject file and records both in the manifest; refuses the
/// night when too many rows were set aside. Also whether a named event type stopped.
fn load_inputs(
    s: &Settings,
    input: &InputArgs,
    staged: &Night,
    m: &mut RunManifest,
) -> Result<(Inputs, bool)> {
    let policy = s.validation.policy(Utc::now().timestamp_millis());
    let inputs = Inputs::load(input, &policy)?;
    m.inputs = input_entries(input, &inputs)?;
    let rejects_path = s.out.join("rejects.csv");
    inputs
        .rejects
        .write_csv(&staged.path("rejects.csv"))
        .with_context(|| format!("writing {}", rejects_path.display()))?;
    m.rejects = Some(inputs.rejects.summary(Some(&rejects_path)));
    m.identity = Some(inputs.events.identity).filter(|i| *i != Default::default());
    inputs
        .rejects
        .enforce(&policy)
        .with_context(|| format!("rows set aside are in {}", rejects_path.display()))?;
    let stopped = inputs.check_events(input)?;
    Ok((inputs, stopped))
}

/// The night's date (midnight UTC, in ms). Without a date given, the sample's night is the
/// log's last day: a log that stops early (cut off mid-file) would publish an older night
/// over the one already out, so that is refused.
fn night_date(s: &Settings, inputs: &Inputs) -> Result<i64> {
    let as_of = match &s.as_of {
        AsOf::Given(text) => {
            not_ahead(super::date_arg("as-of date (--as-of, [run] as_of)", text)?)?
        }
        AsOf::Today => Utc::now().timestamp_millis().div_euclid(DAY_MS) * DAY_MS,
        AsOf::AfterLog => (inputs.events.max_ts.div_euclid(DAY_MS) + 1) * DAY_MS,
    };
    if s.as_of == AsOf::AfterLog {
        if let Some(last) = history::ListState::read(&s.out.join(history::STATE_FILE))? {
            if last.as_of.as_str() > format_date(as_of).as_str() {
                return Err(Error::LogBehindList {
                    log_ends: format_date(inputs.events.max_ts),
                    night: format_date(as_of),
                    published: last.as_of,
                    how_to_run_it: format!(
                        "Give --as-of {} to run that night on purpose",
                        format_date(as_of)
                    ),
                }
                .into());
            }
        }
    }
    Ok(as_of)
}

/// A night given a date after tomorrow (UTC) would publish a list for a day that has not
/// come and make every ordinary night after it a backfill: refused. Tomorrow is allowed,
/// for a cron east of UTC.
fn not_ahead(as_of: i64) -> Result<i64> {
    let today = Utc::now().timestamp_millis().div_euclid(DAY_MS) * DAY_MS;
    if as_of > today + DAY_MS {
        return Err(Error::InvalidArgument {
            name: "as-of date (--as-of, [run] as_of)".into(),
            message: format!(
                "{} is after tomorrow ({} is today, UTC): a night is run on or after its date",
                format_date(as_of),
                format_date(today)
            ),
        }
        .into());
    }
    Ok(as_of)
}

/// The model the night scores with, and its scores.
struct Tonight {
    model: ChurnModel,
    scored: Scored,
    drift: Option<Drift>,
    /// Why the night retrained (None: the model on disk was kept).
    reason: Option<String>,
    /// The model file used: the production file, or where tonight's model goes.
    path: PathBuf,
    trained: Trained,
}

impl Tonight {
    /// The manifest's record of the model used.
    fn used(&self) -> Result<ModelUsed> {
        let model = &self.model;
        Ok(ModelUsed {
            path: self.path.display().to_string(),
            sha256: match &self.trained {
                Some((_, bytes)) => churnrisk::base::files::sha256_bytes(bytes),
                None => churnrisk::base::files::sha256_file(&self.path)?,
            },
            trained_as_of: model.training.as_of.clone(),
            trained_rows: model.training.rows,
            trained_churned: model.training.churned,
            panel_dates: model.training.panel.len(),
            retrained: self.reason.is_some(),
            retrain_reason: self.reason.clone(),
            written: true,
            validation_roc_auc: model.validation.roc_auc,
            baseline_roc_auc: model.baseline.roc_auc,
        })
    }
}

/// Keeps the model on disk unless it must go (asked, stale, another format, other
/// features, or the scores' drift at the act level on a log that does not look cut);
/// otherwise trains one tonight. `hold`: why tonight's drift is the log's own making.
fn model_for_night(
    args: &RunArgs,
    s: &Settings,
    inputs: &Inputs,
    prepared: &Prepared,
    as_of: i64,
    hold: Option<&str>,
) -> Result<Tonight> {
    let (existing, mut reason) = existing_model(args, s, inputs, as_of)?;
    let rated_before = existing.as_ref().map(|m| m.event_types.clone());
    // A backfill (an as-of date before the production model's) never replaces that
    // model: it trains into a file of its own beside it.
    let backfill = existing
        .as_ref()
        .and_then(|m| churnrisk::base::time::parse_timestamp(&m.training.as_of))
        .is_some_and(|trained| as_of < trained);
    if let (Some(model), None) = (existing, &reason) {
        let (scored, drift) = score_gated(inputs, prepared, &model, as_of, s)?;
        match &drift {
            None => warn!(
                "{} has no drift reference (written by an older churnrisk); retrain it to measure drift",
                s.model.display()
            ),
            // The scores' drift retrains; a feature's alone does not. Recency features
            // swing with the weekday (a Monday night sees everyone's weekend), and a
            // retrain adds a day of labels and moves the reference, no more: the model is
            // remade only when what it publishes has moved.
            // A log cut during its last day, or a named event that stopped (a rename),
            // makes its own drift: a retrain would learn it (a helper's outage night
            // retrained into answer-key Brier 0.145 against the kept model's 0.117, a
            // night after a rename into 0.184 against 0.111).
            Some(d) if d.score_psi >= s.drift.act && s.drift.retrain && hold.is_some() => warn!(
                "drift: {}; past the act level ({}), but {}",
                d.describe(),
                s.drift.act,
                hold.unwrap_or_default()
            ),
            Some(d) if d.score_psi >= s.drift.act && s.drift.retrain => {
                warn!(
                    "drift: {}; past the act level ({}): the model is retrained tonight",
                    d.describe(),
                    s.drift.act
                );
                reason = Some(format!("drift: {} (act at {})", d.describe(), s.drift.act));
            }
            // Worth a warning when the scores moved: a feature's swing alone is every
            // Monday's (a warning each night is one nobody reads), so it is logged.
            Some(d) if d.score_psi >= s.drift.warn => warn!("drift: {}", d.describe()),
            Some(d) if d.level != DriftLevel::Stable => info!(
                "drift: {}; the scores have not moved (score PSI under {}): the model is kept",
                d.describe(),
                s.drift.warn
            ),
            Some(_) => {}
        }
        if reason.is_none() {
            let path = s.model.clone();
            let trained = None;
            return Ok(Tonight {
                model,
                scored,
                drift,
                reason,
                path,
                trained,
            });
        }
    }
    let path = if backfill {
        backfill_path(&s.model, &format_date(as_of))
    } else {
        s.model.clone()
    };
    let tonight = train_tonight(s, inputs, prepared, as_of, reason, path, backfill)?;
    // Event types that lost their rates: new ones (a release's) can push them out of
    // the `top`, and the model loses what they said without a word.
    if let Some(before) = rated_before {
        let now = &tonight.model.event_types;
        let gone: Vec<&str> = before
            .iter()
            .filter(|e| !now.contains(e))
            .map(String::as_str)
            .collect();
        if !gone.is_empty() {
            let came: Vec<&str> = now
                .iter()
                .filter(|e| !before.contains(e))
                .map(String::as_str)
                .collect();
            warn!(
                "the retrained model has no rates of their own for {} (the model it replaces had), now rating {} instead: the {} most frequent event types changed; raise `[event_rates] top`, or `exclude` types that are no use of the product",
                gone.join(", "),
                if came.is_empty() { "none".to_string() } else { came.join(", ") },
                now.len()
            );
        }
    }
    Ok(tonight)
}

/// The model on disk (None when missing or of an older format) and why it cannot be kept,
/// if it cannot.
fn existing_model(
    args: &RunArgs,
    s: &Settings,
    inputs: &Inputs,
    as_of: i64,
) -> Result<(Option<ChurnModel>, Option<String>)> {
    // A model from an older churnrisk cannot be read: the night retrains, as it does
    // without one, and says why.
    let older = ChurnModel::older_format(&s.model);
    let existing = if s.model.is_file() && older.is_none() {
        Some(
            ChurnModel::load(&s.model)
                .with_context(|| format!("reading model {}", s.model.display()))?,
        )
    } else {
        None
    };
    let mut reason = if args.retrain {
        Some("asked to (--retrain)".to_string())
    } else {
        retrain_reason(
            existing.as_ref(),
            &inputs.spec,
            &s.rule,
            as_of,
            s.max_age_days,
        )
    };
    if let Some(v) = older {
        reason = Some(format!(
            "the model file is format {v}, written by an older churnrisk (this one reads {})",
            churnrisk::model::artifact::FORMAT_VERSION
        ));
    }
    Ok((existing, reason))
}

/// Trains tonight's model (to be written to `path` once the night is published) and
/// scores with it.
fn train_tonight(
    s: &Settings,
    inputs: &Inputs,
    prepared: &Prepared,
    as_of: i64,
    reason: Option<String>,
    path: PathBuf,
    backfill: bool,
) -> Result<Tonight> {
    let why = reason.as_deref().unwrap_or("");
    info!("training a model as of {} ({why})", format_date(as_of));
    let mut opts = TrainOptions::new(as_of, s.rule);
    (opts.panel_dates, opts.step_days) = (s.panel.dates, s.panel.step_days);
    (opts.min_churned, opts.min_retained) = (s.gate.min_churned, s.gate.min_retained);
    let step = logging::step(format!("training ({why})"));
    let model =
        train_prepared(&inputs.sources(), prepared, &inputs.spec, &opts).context("training")?;
    step.finish_and_clear();
    let trained = Some((path.clone(), model.to_bytes(&path)?));
    if backfill {
        info!(
            "backfill: the model is written to {}; {} stays the production model",
            path.display(),
            s.model.display()
        );
    }
    info!("{}", training_summary(&model).trim_end());
    let (scored, drift) = score_gated(inputs, prepared, &model, as_of, s)?;
    if let Some(d) = drift.as_ref().filter(|d| d.level != DriftLevel::Stable) {
        warn!(
            "drift against the new model's training day: {}",
            d.describe()
        );
    }
    Ok(Tonight {
        model,
        scored,
        drift,
        reason,
        path,
        trained,
    })
}

/// The manifest's counts and status of a night that went through, written to its staged
/// place.
fn finish_manifest(
    m: &mut RunManifest,
    rows: &[RankedRow],
    summary: ListSummary,
    s: &Settings,
    staged: &Night,
) -> Result<()> {
    let count = |t: Tier| rows.iter().filter(|r| r.tier == t).count();
    m.scored_users = Some(rows.len());
    m.tiers = Some(TierCounts {
        high: count(Tier::High),
        medium: count(Tier::Medium),
        low: count(Tier::Low),
    });
    m.list = Some(summary);
    m.status = "ok".into();
    m.finished_at = now_text();
    let manifest_path = s.out.join("manifest.json");
    m.write(&staged.path("manifest.json"))
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    Ok(())
}

/// Compares with the previous list, writes every list format, the changes file, the
/// account roll-up and the list state (last, so that a killed run is redone the same way).
fn publish(
    s: &Settings,
    staged: &Night,
    inputs: &Inputs,
    rows: &mut [RankedRow],
    as_of: &str,
    m: &mut RunManifest,
) -> Result<ListSummary> {
    let l = &s.list;
    let crm = crm_lookup(inputs.users.as_ref())?;
    let previous = history::previous_state_into(&s.out, as_of, &staged.path(""))?;
    let (state, cmp) = history::compare(
        rows,
        previous.as_ref(),
        as_of,
        l.list_tier,
        &crm,
        &l.split,
        s.rule.definition.left_reason(),
    );
    // Statuses compare two models' readings on a retrained night: say so, so that a
    // swap is not read as users recovering (a helper's retrain marked 1,511 "recovered").
    let retrained = m.model.as_ref().is_some_and(|x| x.retrained);
    if let (true, Some(before)) = (retrained, &previous) {
        if cmp.new + cmp.recovered > 0 {
            warn!(
                "the model was retrained tonight: the {} new and {} recovered users against the list of {} are partly the new model's reading, not a change in the users",
                cmp.new, cmp.recovered, before.as_of
            );
        }
    }
    let view = l.view.select(rows);
    super::warn_formula_like_keys(&view);
    let with_crm = inputs.users.is_some();
    if with_crm {
        let listed: Vec<&RankedRow> = view
            .iter()
            .copied()
            .filter(|r| r.tier.at_least(l.list_tier))
            .collect();
        warn_not_in_users(&listed, &crm);
    }
    let mut summary = ListSummary {
        previous_as_of: cmp.previous_as_of.clone(),
        list_min_tier: l.list_tier.label().into(),
        on_list: state.users.len(),
        new: cmp.new,
        still: cmp.still,
        recovered: cmp.recovered,
        inactive: cmp.inactive,
        rows_written: view.len(),
        control_on_list: rows
            .iter()
            .filter(|r| r.tier.at_least(l.list_tier) && r.group == Group::Control)
            .count(),
        crm: BTreeMap::new(),
    };
    for &format in &l.formats {
        match format {
            OutputFormat::Csv | OutputFormat::Jsonl | OutputFormat::Parquet => {
                let path = staged.path(&format!("at_risk.{}", format.name()));
                match format {
                    OutputFormat::Csv => write_csv(&path, &view, with_crm, as_of),
                    OutputFormat::Jsonl => write_jsonl(&path, &view, as_of),
                    _ => write_parquet(&path, &view, as_of),
                }
                .with_context(|| writing(staged, &path))?;
                m.outputs
                    .push(staged_entry(staged, "at_risk", &path, Some(view.len()))?);
            }
            OutputFormat::Hubspot | OutputFormat::Salesforce => {
                let export = write_crm(format, l, staged, &view, &cmp.changes, as_of, m)?;
                summary.crm.insert(format.name().to_string(), export);
            }
        }
    }
    write_changes_and_accounts(l, staged, &cmp, rows, as_of, m)?;
    let state_path = staged.path(history::STATE_FILE);
    state
        .write(&state_path)
        .with_context(|| writing(staged, &state_path))?;
    Ok(summary)
}

/// Users on the list (at its tier or above) the users table does not know have no email,
/// CRM id or account: CS cannot reach them, and they are often anonymous ids read as users.
fn warn_not_in_users(listed: &[&RankedRow], crm: &HashMap<String, [String; 4]>) {
    let unknown: Vec<&str> = listed
        .iter()
        .map(|r| r.user_id.as_str())
        .filter(|id| !crm.contains_key(*id))
        .collect();
    if let Some(first) = unknown.first() {
        warn!(
            "{} of the {} users on the list are not in the users table (no email, CRM id or \
             account; first: {first:?}): if they are anonymous ids, map the export's anonymous \
             id column (`[inputs.columns] anonymous_id`, `--column anonymous_id=…`) or use its \
             preset, so that only identified users are scored",
            unknown.len(),
            listed.len()
        );
    }
}

/// Writes the changes since the previous night (those in the list's segment) and the
/// account roll-up, and records them.
fn write_changes_and_accounts(
    l: &ListSettings,
    staged: &Night,
    cmp: &history::Comparison,
    rows: &[RankedRow],
    as_of: &str,
    m: &mut RunManifest,
) -> Result<()> {
    let changes = history::Comparison {
        changes: cmp
            .changes
            .iter()
            .filter(|c| l.view.segment_matches(&c.crm))
            .cloned()
            .collect(),
        ..cmp.clone()
    };
    let changes_path = staged.path("changes.csv");
    history::write_changes(&changes_path, &changes, as_of)
        .with_context(|| writing(staged, &changes_path))?;
    let rows_changed = Some(changes.changes.len());
    m.outputs.push(staged_entry(
        staged,
        "changes",
        &changes_path,
        rows_changed,
    )?);
    let accounts = roll_up(rows, l.list_tier, &l.tiers);
    if !accounts.is_empty() {
        let path = staged.path("accounts.csv");
        write_accounts(&path, &accounts, as_of).with_context(|| writing(staged, &path))?;
        m.outputs.push(staged_entry(
            staged,
            "accounts",
            &path,
            Some(accounts.len()),
        )?);
    }
    Ok(())
}

// Each output is written to its staged place; messages and the manifest name the place
// it is published to.

/// The manifest entry of a staged output, named where it is published.
fn staged_entry(
    staged: &Night,
    role: &str,
    staged_path: &Path,
    rows: Option<usize>,
) -> Result<FileEntry> {
    let mut e = FileEntry::new(role, staged_path, rows)?;
    e.path = staged.published(staged_path).display().to_string();
    Ok(e)
}

/// The context of a failed write: the place the file is published to.
fn writing(staged: &Night, path: &Path) -> String {
    format!("writing {}", staged.published(path).display())
}

/// Writes the HubSpot or Salesforce import files of the list (with tonight's inactive
/// `changes`), warns about users left out for want of an id, records the files in the
/// manifest and returns what was written.
fn write_crm(
    format: OutputFormat,
    l: &ListSettings,
    staged: &Night,
    view: &[&RankedRow],
    changes: &[history::Change],
    as_of: &str,
    m: &mut RunManifest,
) -> Result<CrmExport> {
    let name = format.name();
    let dir = staged.path(name);
    let export = if format == OutputFormat::Hubspot {
        write_hubspot(&dir, view, changes, as_of, l.hubspot_max_rows)
    } else {
        write_salesforce(
            &dir,
            view,
            changes,
            as_of,
            l.salesforce_max_rows,
            l.salesforce_key,
            &l.salesforce_external_id,
        )
    }
    .with_context(|| writing(staged, &dir))?;
    if export.skipped_without_id > 0 {
        let first = export.first_skipped.as_deref().unwrap_or_default();
        if format == OutputFormat::Hubspot {
            warn!(
                "hubspot: {} users on the list have no email nor numeric HubSpot id \
                 (crm_id) and were left out (first: {first:?})",
                export.skipped_without_id
            );
        } else {
            warn!(
                "salesforce: {} users on the list have no Salesforce record id in \
                 crm_id (15 characters, or 18 whose last 3 are the checksum of the first 15) \
                 and were left out of the Id-keyed file (first: {first:?}); \
                 [output] salesforce_key = \"external_id\" keys every user on {}",
                export.skipped_without_id, l.salesforce_external_id
            );
        }
    }
    for f in &export.files {
        m.outputs.push(staged_entry(staged, name, f, None)?);
    }
    // The manifest names the files where they are published, not staged.
    let mut export = export;
    export.files = export.files.iter().map(|f| staged.published(f)).collect();
    Ok(export)
}

/// Scores the population at `as_of`, refuses one far smaller than the model's, and
/// measures its drift.
fn score_gated(
    inputs: &Inputs,
    prepared: &Prepared,
    model: &ChurnModel,
    as_of: i64,
    s: &Settings,
) -> Result<(Scored, Option<Drift>)> {
    let (min_share, drift) = (s.gate.min_population_share, &s.drift);
    let thresholds = Thresholds {
        warn: drift.warn,
        act: drift.act,
    };
    info!("scoring the users active on {}", format_date(as_of));
    let step = logging::step("scoring");
    let scored = score_prepared(&inputs.sources(), prepared, &inputs.spec, model, as_of)?;
    step.finish_and_clear();
    check_population(model, scored.users.len(), min_share)?;
    let drift = scored.drift(model, thresholds)?;
    Ok((scored, drift))
}

/// Where a backfill at `as_of` writes its model: `models/x.json` → `models/x.backfill-<as_of>.json`.
fn backfill_path(production: &Path, as_of: &str) -> PathBuf {
    let stem = production
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    production.with_file_name(format!("{stem}.backfill-{as_of}.json"))
}

/// The manifest's entries for the files read: each event file (of a folder, glob or
/// archive) with the data rows read from it, then the tables and the feature file.
fn input_entries(input: &InputArgs, inputs: &Inputs) -> Result<Vec<FileEntry>> {
    let events = &inputs.events;
    let mut files = Vec::with_capacity(events.files.len() + 3);
    for f in &events.files {
        // A file's rows, or the rows of an archive's entries (`archive.zip:entry`).
        let name = f.display().to_string();
        let entries = format!("{name}:");
        let rows: u64 = inputs
            .rejects
            .files
            .iter()
            .filter(|(k, _)| **k == name || k.starts_with(&entries))
            .map(|(_, t)| t.rows_read)
            .sum();
        let rows = Some(rows as usize).filter(|&n| n > 0);
        let rows = match rows {
            None if churnrisk::ingest::is_parquet(f) => Some(churnrisk::ingest::parquet_rows(f)?),
            rows => rows,
        };
        files.push(FileEntry::new("events", f, rows)?);
    }
    if let (Some(p), Some(u)) = (&input.users, &inputs.users) {
        files.push(FileEntry::new("users", p, Some(u.df.height()))?);
    }
    if let (Some(p), Some(t)) = (&input.subscriptions, &inputs.subscriptions) {
        files.push(FileEntry::new("subscriptions", p, Some(t.rows))?);
    }
    // The built-in definitions where the default file is not here (`load_features`).
    files.push(if super::built_in_features(&input.features) {
        FileEntry {
            role: "features".into(),
            path: format!("{SAMPLE_FEATURES} (built in)"),
            rows: None,
            sha256: churnrisk::base::files::sha256_bytes(super::DEFAULT_FEATURES.as_bytes()),
        }
    } else {
        FileEntry::new("features", &input.features, None)?
    });
    Ok(files)
}

/// The run's settings: from `--config` when given, else from the flags (sample mode),
/// resolved over the one set of defaults by `churnrisk::run::settings`.
fn settings(args: &RunArgs) -> Result<Settings> {
    check_fraction(args.max_reject_fraction)?;
    let mut s = settings_of(args)?;
    if let Some(days) = args.max_missing_days {
        s.inputs.max_missing_days = days;
    }
    Ok(s)
}

fn settings_of(args: &RunArgs) -> Result<Settings> {
    if let Some(path) = &args.config {
        let config = RunConfig::load(path)?;
        return Ok(Settings::from_config(config, args.as_of.clone())?);
    }
    // The events file is looked for first: a sample folder without one is the first error.
    find_events(&args.data)?;
    let (tiers, view) = list_from(&args.list)?;
    if !(0.0..=0.5).contains(&args.control_share) {
        return Err(Error::InvalidArgument {
            name: "--control-share".into(),
            message: format!("must be between 0 and 0.5, not {}", args.control_share),
        }
        .into());
    }
    Ok(Settings::sample(SampleChoices {
        data: args.data.clone(),
        features: args.features.clone(),
        model: sample_model(args)?,
        out: args.out.clone(),
        as_of: args.as_of.clone(),
        tiers,
        view,
        formats: args.formats.iter().map(|&f| f.into()).collect(),
        control_share: args.control_share,
        strict: args.strict,
        max_reject_fraction: args.max_reject_fraction,
    })?)
}

/// The model of a night without a config: `--model`, else the shipped sample's — but only
/// on the shipped sample's data and features, since a night on other inputs would retrain
/// and overwrite it.
fn sample_model(args: &RunArgs) -> Result<PathBuf> {
    if let Some(model) = &args.model {
        return Ok(model.clone());
    }
    if args.data == Path::new(SAMPLE_DATA) && args.features == Path::new(SAMPLE_FEATURES) {
        return Ok(SAMPLE_MODEL_PATH.into());
    }
    Err(Error::InvalidArgument {
        name: "--model".into(),
        message: format!(
            "needed with --data {} / --features {}: the default, {SAMPLE_MODEL_PATH}, is the \
             shipped sample's model, and a night on other inputs would retrain and overwrite \
             it. Give --model PATH for your own (e.g. --model models/churn_model.json), or \
             run your nights with --config (see data/churnrisk.toml)",
            args.data.display(),
            args.features.display()
        ),
    }
    .into())
}

/// The input files and read options as the loader takes them (no column flags, no shard:
/// a night reads the whole log as configured).
fn input_args(s: &Settings) -> InputArgs {
    let i = &s.inputs;
    InputArgs {
        config: None,
        events: Some(i.events.clone()),
        preset: i.preset,
        delimiter: i.delimiter.clone(),
        header: i.header.clone(),
        columns: Vec::new(),
        shard: None,
        column_overrides: i.columns.clone(),
        users: i.users.clone(),
        user_columns: Vec::new(),
        user_column_overrides: i.user_columns.clone(),
        subscriptions: i.subscriptions.clone(),
        subscription_columns: Vec::new(),
        subscription_column_overrides: i.subscription_columns.clone(),
        features: i.features.clone().unwrap_or_else(|| SAMPLE_FEATURES.into()),
        validation: ValidationArgs {
            strict: s.validation.strict,
            max_reject_fraction: s.validation.max_reject_fraction,
            // A night where no event is left still writes the reject file that says why.
            rejects: Some(s.out.join("rejects.csv")),
            from_config: None,
        },
    }
}
