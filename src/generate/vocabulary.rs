//! The SaaS product's event names and the kind numbers the simulator uses for them.

/// Every event name the simulator emits.
pub const EVENT_VOCABULARY: [&str; 17] = [
    "login",
    "page_view",
    "onboarding_started",
    "data_source_connected",
    "data_imported",
    "report_created",
    "report_shared",
    "dashboard_built",
    "export_scheduled",
    "integration_connected",
    "teammate_invited",
    "import_failed",
    "error_shown",
    "nps_submitted",
    "survey_submitted",
    "help_viewed",
    "settings_changed",
];
/// The value actions among [`EVENT_VOCABULARY`]; the first `report_created` is activation.
pub const VALUE_ACTIONS: [&str; 4] = [
    "report_created",
    "report_shared",
    "dashboard_built",
    "export_scheduled",
];
// Event kinds index EVENT_VOCABULARY; core feature `k` (0..6) is `REPORT + k`.
pub(super) const LOGIN: u8 = 0;
pub(super) const PAGE: u8 = 1;
pub(super) const IMPORT: u8 = 4;
pub(super) const REPORT: u8 = 5;
pub(super) const IMPORT_FAIL: u8 = 11;
pub(super) const ERROR: u8 = 12;
pub(super) const NPS: u8 = 13;
pub(super) const SURVEY: u8 = 14;
pub(super) const HELP: u8 = 15;
pub(super) const SETTINGS: u8 = 16;
pub(super) const NO_VALUE: u32 = u32::MAX;

/// One event before formatting; `t` is seconds into its day.
pub(super) struct Ev {
    pub(super) t: u32,
    pub(super) user: u32,
    pub(super) seq: u32,
    pub(super) sess: u32,
    pub(super) val: u32,
    pub(super) kind: u8,
}
