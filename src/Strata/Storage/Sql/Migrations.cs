namespace Strata.Storage.Sql;

/// <summary>
/// The metadata schema as numbered migrations, applied in order at start-up inside one transaction each. A migration is
/// never edited once released: changes come as new numbers. Each number is applied when it is missing, not only when it
/// is above the highest applied one, so branches that took numbers in parallel (3 serving, 4 pipelines, 5 monitoring, 6 feedback labels,
/// 7 monitor state, 8 live quality and the alert outbox, 9 the prediction-log segments a feed has read)
/// merge in any order: a store that has 1, 2 and 4 still gets 3 when it arrives.
/// </summary>
internal static class Migrations
{
    public static IReadOnlyList<(int Version, string Sql)> For(SqlDialect dialect)
    {
        var d = dialect.DoubleType;
        return
        [
            (1, $"""
                CREATE TABLE audit_head (id INTEGER PRIMARY KEY, sequence BIGINT NOT NULL, hash TEXT NOT NULL);
                INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, '{SqlMetadataStore.Genesis}');
                CREATE TABLE audit_log (
                    sequence BIGINT PRIMARY KEY, time BIGINT NOT NULL, principal TEXT NOT NULL, action TEXT NOT NULL,
                    project TEXT NOT NULL, target TEXT NOT NULL, request_id TEXT, details TEXT,
                    previous_hash TEXT NOT NULL, hash TEXT NOT NULL);
                CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
                CREATE TABLE projects (name TEXT PRIMARY KEY, description TEXT, created_at BIGINT NOT NULL);
                CREATE TABLE experiments (
                    id BIGINT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects (name), name TEXT NOT NULL,
                    created_at BIGINT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, UNIQUE (project, name));
                CREATE TABLE experiment_tags (
                    experiment_id BIGINT NOT NULL REFERENCES experiments (id), key TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (experiment_id, key));
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL, experiment_id BIGINT NOT NULL REFERENCES experiments (id),
                    name TEXT NOT NULL, status TEXT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT, source TEXT,
                    created_by TEXT NOT NULL, parent_run_id TEXT);
                CREATE INDEX runs_project_start ON runs (project, start_time, id);
                CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time, id);
                CREATE TABLE run_params (run_id TEXT NOT NULL REFERENCES runs (id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
                CREATE INDEX run_params_key_value ON run_params (key, value, run_id);
                CREATE TABLE run_tags (run_id TEXT NOT NULL REFERENCES runs (id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
                CREATE TABLE metric_points (
                    run_id TEXT NOT NULL REFERENCES runs (id), key TEXT NOT NULL, step BIGINT NOT NULL, time BIGINT NOT NULL, value {d} NOT NULL);
                CREATE INDEX metric_points_run_key ON metric_points (run_id, key, step, time);
                CREATE TABLE latest_metrics (
                    run_id TEXT NOT NULL REFERENCES runs (id), project TEXT NOT NULL, key TEXT NOT NULL, value {d} NOT NULL,
                    step BIGINT NOT NULL, time BIGINT NOT NULL, PRIMARY KEY (run_id, key));
                CREATE INDEX latest_metrics_order ON latest_metrics (project, key, value, run_id);
                CREATE TABLE run_artifacts (
                    run_id TEXT NOT NULL REFERENCES runs (id), path TEXT NOT NULL, digest TEXT NOT NULL, size BIGINT NOT NULL,
                    created_at BIGINT NOT NULL, PRIMARY KEY (run_id, path));
                CREATE INDEX run_artifacts_digest ON run_artifacts (digest);
                CREATE TABLE models (
                    project TEXT NOT NULL REFERENCES projects (name), name TEXT NOT NULL, description TEXT, created_at BIGINT NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0, protected_aliases TEXT NOT NULL, tags TEXT NOT NULL, PRIMARY KEY (project, name));
                CREATE TABLE model_versions (
                    project TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, run_id TEXT, artifact_digest TEXT NOT NULL,
                    artifact_size BIGINT NOT NULL, signature TEXT, learner TEXT, metrics TEXT NOT NULL, description TEXT,
                    tags TEXT NOT NULL, status TEXT NOT NULL, status_at BIGINT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL,
                    PRIMARY KEY (project, model, version), FOREIGN KEY (project, model) REFERENCES models (project, name));
                CREATE INDEX model_versions_digest ON model_versions (artifact_digest);
                CREATE TABLE model_aliases (
                    project TEXT NOT NULL, model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
                    updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, PRIMARY KEY (project, model, alias));
                CREATE TABLE alias_moves (
                    project TEXT NOT NULL, model TEXT NOT NULL, alias TEXT NOT NULL, sequence BIGINT NOT NULL, from_version INTEGER,
                    to_version INTEGER, principal TEXT NOT NULL, time BIGINT NOT NULL, reason TEXT, approval_id TEXT,
                    PRIMARY KEY (project, model, alias, sequence));
                CREATE TABLE promotions (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL, model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
                    requested_by TEXT NOT NULL, requested_at BIGINT NOT NULL, reason TEXT, status TEXT NOT NULL,
                    decided_by TEXT, decided_at BIGINT, decision_reason TEXT);
                CREATE INDEX promotions_model ON promotions (project, model, requested_at);
                CREATE TABLE lineage_artifacts (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, digest TEXT,
                    properties TEXT NOT NULL, created_at BIGINT NOT NULL);
                CREATE INDEX lineage_artifacts_name ON lineage_artifacts (project, type, name);
                CREATE INDEX lineage_artifacts_digest ON lineage_artifacts (project, digest);
                CREATE TABLE lineage_executions (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
                    properties TEXT NOT NULL, created_at BIGINT NOT NULL);
                CREATE TABLE lineage_events (
                    execution_id TEXT NOT NULL REFERENCES lineage_executions (id), artifact_id TEXT NOT NULL REFERENCES lineage_artifacts (id),
                    type TEXT NOT NULL, time BIGINT NOT NULL, PRIMARY KEY (execution_id, artifact_id, type));
                CREATE INDEX lineage_events_artifact ON lineage_events (artifact_id, type);
                CREATE TABLE lineage_contexts (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (project, type, name));
                CREATE TABLE lineage_attributions (context_id TEXT NOT NULL REFERENCES lineage_contexts (id), artifact_id TEXT NOT NULL, PRIMARY KEY (context_id, artifact_id));
                CREATE TABLE lineage_associations (context_id TEXT NOT NULL REFERENCES lineage_contexts (id), execution_id TEXT NOT NULL, PRIMARY KEY (context_id, execution_id));
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY, principal TEXT NOT NULL, project TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL,
                    created_at BIGINT NOT NULL, created_by TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, description TEXT);
                """),
            (2, """
                CREATE TABLE feature_repository_versions (
                    project TEXT NOT NULL REFERENCES projects (name), version INTEGER NOT NULL, digest TEXT NOT NULL,
                    definition TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (project, version));
                CREATE TABLE feature_watermarks (
                    project TEXT NOT NULL REFERENCES projects (name), view_name TEXT NOT NULL, watermark BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, PRIMARY KEY (project, view_name));
                """),
            (3, """
                CREATE TABLE serving_endpoints (
                    name TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects (name), definition TEXT NOT NULL,
                    updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL);
                CREATE TABLE api_key_endpoints (key_id TEXT NOT NULL, endpoint TEXT NOT NULL, PRIMARY KEY (key_id, endpoint));
                """),
            (4, """
                CREATE TABLE pipeline_runs (
                    id TEXT PRIMARY KEY, project TEXT NOT NULL REFERENCES projects (name), pipeline TEXT NOT NULL, spec_digest TEXT NOT NULL,
                    spec TEXT NOT NULL, state TEXT NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT, error TEXT, created_by TEXT NOT NULL,
                    rerun_of TEXT, properties TEXT NOT NULL);
                CREATE INDEX pipeline_runs_project_start ON pipeline_runs (project, started_at, id);
                CREATE TABLE pipeline_steps (
                    run_id TEXT NOT NULL REFERENCES pipeline_runs (id), step TEXT NOT NULL, project TEXT NOT NULL, type TEXT NOT NULL,
                    state TEXT NOT NULL, cache_key TEXT, started_at BIGINT, ended_at BIGINT, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
                    error TEXT, execution_id TEXT, seq BIGINT NOT NULL, PRIMARY KEY (run_id, step));
                CREATE INDEX pipeline_steps_cache ON pipeline_steps (project, cache_key, state);
                """),
            (5, $"""
                CREATE TABLE monitor_results (
                    project TEXT NOT NULL, monitor TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL, model_version INTEGER NOT NULL,
                    window_start BIGINT NOT NULL, window_end BIGINT NOT NULL, check_name TEXT NOT NULL, status TEXT NOT NULL, score {d},
                    row_count BIGINT NOT NULL, details TEXT, created_at BIGINT NOT NULL,
                    PRIMARY KEY (project, monitor, endpoint, model_version, window_start, check_name));
                CREATE INDEX monitor_results_endpoint_time ON monitor_results (project, endpoint, window_start);
                """),
            (6, $"""
                CREATE TABLE monitor_labels (
                    project TEXT NOT NULL, endpoint TEXT NOT NULL, request_id TEXT NOT NULL, label {d} NOT NULL,
                    received_at BIGINT NOT NULL, received_by TEXT NOT NULL, PRIMARY KEY (project, endpoint, request_id));
                CREATE INDEX monitor_labels_received ON monitor_labels (project, endpoint, received_at);
                """),
            (7, $"""
                CREATE TABLE monitor_feeds (
                    project TEXT NOT NULL, endpoint TEXT NOT NULL, monitor TEXT NOT NULL, segment TEXT, records BIGINT NOT NULL,
                    closed_until BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (project, endpoint, monitor));
                CREATE TABLE monitor_specs (
                    project TEXT NOT NULL REFERENCES projects (name), endpoint TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
                    updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, PRIMARY KEY (project, endpoint, name));
                CREATE TABLE prediction_index (
                    project TEXT NOT NULL, endpoint TEXT NOT NULL, request_id TEXT NOT NULL, time BIGINT NOT NULL, model_version INTEGER NOT NULL,
                    score {d}, classes TEXT, PRIMARY KEY (project, endpoint, request_id));
                """),
            (8, """
                ALTER TABLE monitor_feeds ADD COLUMN quality_until BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE monitor_feeds ADD COLUMN label_sequence BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE monitor_feeds ADD COLUMN late_labels BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE monitor_labels ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
                CREATE INDEX monitor_labels_sequence ON monitor_labels (project, endpoint, sequence);
                CREATE INDEX prediction_index_time ON prediction_index (project, endpoint, time);
                CREATE TABLE monitor_alerts (
                    id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, project TEXT NOT NULL, kind TEXT NOT NULL, target TEXT, event TEXT NOT NULL,
                    attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL, delivered_at BIGINT, last_error TEXT, created_at BIGINT NOT NULL);
                CREATE INDEX monitor_alerts_due ON monitor_alerts (delivered_at, next_attempt_at);
                CREATE INDEX monitor_alerts_project ON monitor_alerts (project, created_at);
                """),
            (9, """
                ALTER TABLE monitor_feeds ADD COLUMN segment_floor TEXT;
                ALTER TABLE monitor_feeds ADD COLUMN read_segments TEXT;
                """),
        ];
    }
}
