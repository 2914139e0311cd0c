namespace Strata.Stores;

/// <summary>
/// One check's result for one window of an endpoint's traffic: what <c>strata monitor status</c> and <c>report</c> read
/// back over time, and what alert rules are evaluated on.
/// </summary>
/// <param name="Monitor">The monitor's name.</param>
/// <param name="Endpoint">The endpoint watched.</param>
/// <param name="Model">The registered model behind it.</param>
/// <param name="ModelVersion">The version served in the window (0: all versions together).</param>
/// <param name="WindowStart">Window start, UTC microseconds (inclusive).</param>
/// <param name="WindowEnd">Window end, UTC microseconds (exclusive).</param>
/// <param name="Check">"data_drift", "prediction_drift" or a quality metric such as "quality".</param>
/// <param name="Status">"drift", "no_drift", "insufficient_data", or for quality "ok".</param>
/// <param name="Score">Data-set drift share, the prediction drift score, or the metric value; null when not computed.</param>
/// <param name="Rows">Rows in the window.</param>
/// <param name="Details">JSON with per-feature results (at most 4 MiB).</param>
/// <param name="CreatedAt">When it was stored (set by the store).</param>
public sealed record MonitorResult(
    string Monitor, string Endpoint, string Model, int ModelVersion, long WindowStart, long WindowEnd, string Check, string Status,
    double? Score, long Rows, string? Details, long CreatedAt = 0);

/// <summary>Which monitor results to read.</summary>
/// <param name="Endpoint">The endpoint.</param>
/// <param name="From">Earliest window start (inclusive), or null.</param>
/// <param name="To">Latest window start (exclusive), or null.</param>
/// <param name="Monitor">Only this monitor, or null.</param>
/// <param name="Check">Only this check (<c>quality</c>: every quality metric, <c>quality.auc</c> and the rest), or null.</param>
/// <param name="Limit">At most this many, newest windows kept (1 to <see cref="MaxLimit"/>).</param>
public sealed record MonitorResultQuery(string Endpoint, long? From = null, long? To = null, string? Monitor = null, string? Check = null, int Limit = 10_000)
{
    /// <summary>The most results one query returns.</summary>
    public const int MaxLimit = 100_000;
}

/// <summary>Ground truth that arrived later for one served request (feedback), joined to the prediction log by request id.</summary>
/// <param name="RequestId">The served request's id.</param>
/// <param name="Label">The true label (0/1 for a binary classifier, the value for a regressor).</param>
/// <param name="ReceivedAt">When it was stored (set by the store).</param>
public sealed record FeedbackLabel(string RequestId, double Label, long ReceivedAt = 0);

/// <summary>Monitor results over time. Saving a window again replaces its earlier result (re-evaluation is idempotent).</summary>
public interface IMonitorResultStore
{
    /// <summary>Stores results in one transaction (one audit entry).</summary>
    Task SaveResultsAsync(string project, IReadOnlyList<MonitorResult> results, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Results in window order (then monitor, check, version).</summary>
    Task<IReadOnlyList<MonitorResult>> ListResultsAsync(string project, MonitorResultQuery query, CancellationToken cancellationToken = default);

    /// <summary>Stores feedback labels of an endpoint in one transaction; a label sent again for a request replaces the earlier one.</summary>
    Task SaveLabelsAsync(string project, string endpoint, IReadOnlyList<FeedbackLabel> labels, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>An endpoint's feedback labels received at or after <paramref name="since"/> (UTC microseconds), oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<FeedbackLabel>> ListLabelsAsync(string project, string endpoint, long since = 0, int limit = 100_000, CancellationToken cancellationToken = default);
}

/// <summary>
/// Where a monitor run by the server stopped reading an endpoint's prediction log, saved in the same transaction as the
/// results of the windows it closed, so a restart neither loses nor double-counts a window.
/// </summary>
/// <param name="Segment">The last log segment read (file name only); null before the first read.</param>
/// <param name="Records">Records of that segment consumed.</param>
/// <param name="ClosedUntil">Every window ending at or before this time (UTC microseconds) is evaluated; later records of them are late.</param>
/// <param name="QualityUntil">Every window ending at or before this time has its quality (labels) evaluated.</param>
/// <param name="LabelSequence">Labels up to this sequence (<see cref="LabeledRequest.Sequence"/>) were seen by the quality evaluations so far.</param>
/// <param name="LateLabels">Labels that arrived after their window's quality was evaluated, counted so far.</param>
/// <param name="SegmentFloor">Every segment whose name sorts before it was read; null: <paramref name="Segment"/> stands for it.</param>
/// <param name="ReadSegments">
/// Segments at or after the floor read to their end, joined by a newline (one may close after later ones were read); null when none.
/// </param>
public sealed record MonitorFeedState(
    string? Segment, long Records, long ClosedUntil, long QualityUntil = 0, long LabelSequence = 0, long LateLabels = 0,
    string? SegmentFloor = null, string? ReadSegments = null);

/// <summary>A served request joined with the feedback label that arrived for it (prediction index ⋈ labels), for the quality check.</summary>
/// <param name="Time">When it was served (UTC microseconds).</param>
/// <param name="ModelVersion">The version that answered.</param>
/// <param name="Score">Its numeric prediction (positive-class probability or value); null for other outputs.</param>
/// <param name="Classifier">Whether a classifier answered (the label is a class index), else a regressor.</param>
/// <param name="Label">The label.</param>
/// <param name="Sequence">The label's arrival sequence: grows with every stored batch of labels, in commit order.</param>
public sealed record LabeledRequest(long Time, int ModelVersion, double? Score, bool Classifier, double Label, long Sequence);

/// <summary>
/// One action of a fired alert in the outbox: written in the same transaction as the results that fired it, delivered
/// after the commit (at least once), and marked delivered; failed deliveries are retried with backoff.
/// </summary>
/// <param name="Id">The action's id: the alert's id, '/', the action's index.</param>
/// <param name="AlertId">The alert's id (stable per monitor, rule and window, so re-evaluating a window does not fire it twice).</param>
/// <param name="Project">The endpoint's project.</param>
/// <param name="Kind">"webhook", "log" or "pipeline".</param>
/// <param name="Target">The webhook URL or the pipeline name; null for a log entry.</param>
/// <param name="Event">The alert as JSON (the webhook's body).</param>
/// <param name="Attempts">Delivery attempts so far.</param>
/// <param name="NextAttemptAt">When it may be tried next (UTC microseconds; set by the store).</param>
/// <param name="DeliveredAt">When it was delivered, or null while pending.</param>
/// <param name="LastError">Why the last attempt failed, or null.</param>
/// <param name="CreatedAt">When it was written (set by the store).</param>
public sealed record OutboxAlert(
    string Id, string AlertId, string Project, string Kind, string? Target, string Event, int Attempts = 0, long NextAttemptAt = 0,
    long? DeliveredAt = null, string? LastError = null, long CreatedAt = 0);

/// <summary>A monitor declared through the API: its definition as JSON (the shape of one <c>monitors:</c> item of strata.yaml).</summary>
/// <param name="Endpoint">The endpoint watched.</param>
/// <param name="Name">The monitor's name.</param>
/// <param name="Definition">The JSON definition.</param>
/// <param name="UpdatedAt">When it was stored (set by the store).</param>
/// <param name="UpdatedBy">Who stored it (set by the store).</param>
public sealed record StoredMonitor(string Endpoint, string Name, string Definition, long UpdatedAt = 0, string UpdatedBy = "");

/// <summary>One served request as the prediction index keeps it, so feedback finds it by id without reading the log.</summary>
/// <param name="RequestId">The request id.</param>
/// <param name="Time">When it was served (UTC microseconds).</param>
/// <param name="ModelVersion">The version that answered.</param>
/// <param name="Score">The numeric prediction of its first row (positive-class probability or value); null for other outputs.</param>
/// <param name="Classes">The model's class labels joined by a newline (classification), or null (regression).</param>
public sealed record IndexedPrediction(string RequestId, long Time, int ModelVersion, double? Score, string? Classes);

/// <summary>Monitors declared through the API, feed positions of the server's monitors, and the index of served request ids.</summary>
public interface IMonitorStateStore
{
    /// <summary>Where a monitor stopped (null: it never ran).</summary>
    Task<MonitorFeedState?> GetFeedStateAsync(string project, string endpoint, string monitor, CancellationToken cancellationToken = default);

    /// <summary>Stores the results of closed windows and the feed position after them in one transaction.</summary>
    Task SaveWindowsAsync(string project, string endpoint, string monitor, IReadOnlyList<MonitorResult> results, MonitorFeedState state, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the results of closed windows, the feed position after them and the alert actions they fire (the outbox; an
    /// action whose id is already there is kept as it is) in one transaction.
    /// </summary>
    Task SaveWindowsAsync(
        string project, string endpoint, string monitor, IReadOnlyList<MonitorResult> results, MonitorFeedState state, IReadOnlyList<OutboxAlert> alerts, Actor actor,
        CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces a monitor declared through the API.</summary>
    Task PutMonitorAsync(string project, StoredMonitor monitor, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>The monitors of a project (or of every project when null) declared through the API, with their project.</summary>
    Task<IReadOnlyList<(string Project, StoredMonitor Monitor)>> ListMonitorsAsync(string? project, string? endpoint = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a monitor declared through the API (and its feed position); false when there was none.</summary>
    Task<bool> DeleteMonitorAsync(string project, string endpoint, string name, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Adds served requests to the index and moves the indexer's position, in one transaction (derived data: not audited).</summary>
    Task IndexPredictionsAsync(string project, string endpoint, IReadOnlyList<IndexedPrediction> predictions, MonitorFeedState state, CancellationToken cancellationToken = default);

    /// <summary>The indexed requests among <paramref name="requestIds"/> (at most 10,000 ids).</summary>
    Task<IReadOnlyDictionary<string, IndexedPrediction>> FindPredictionsAsync(string project, string endpoint, IReadOnlyCollection<string> requestIds, CancellationToken cancellationToken = default);

    /// <summary>The newest label sequence of an endpoint (0: no labels).</summary>
    Task<long> GetLabelSequenceAsync(string project, string endpoint, CancellationToken cancellationToken = default);

    /// <summary>
    /// Labelled requests served in [<paramref name="servedFrom"/>, <paramref name="servedTo"/>) whose label sequence is at most
    /// <paramref name="maxSequence"/>, in serving-time order, at most <paramref name="limit"/> (1..1,000,000).
    /// </summary>
    Task<IReadOnlyList<LabeledRequest>> ListLabeledAsync(
        string project, string endpoint, long servedFrom, long servedTo, long maxSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>How many labels with a sequence in (<paramref name="afterSequence"/>, <paramref name="maxSequence"/>] belong to requests served before <paramref name="servedBefore"/>.</summary>
    Task<long> CountLabeledAsync(string project, string endpoint, long servedBefore, long afterSequence, long maxSequence, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes up to <paramref name="limit"/> undelivered alert actions that are due: each gets one more attempt counted and
    /// is not handed out again for <paramref name="lease"/> (so a crash while delivering only delays it).
    /// </summary>
    Task<IReadOnlyList<OutboxAlert>> ClaimAlertsAsync(TimeSpan lease, int limit, CancellationToken cancellationToken = default);

    /// <summary>Marks an alert action delivered, or failed with <paramref name="failure"/> and due again after <paramref name="retryAfter"/>.</summary>
    Task CompleteAlertAsync(string id, bool delivered, TimeSpan retryAfter, string? failure, CancellationToken cancellationToken = default);

    /// <summary>The alert actions of a project in the outbox (delivered or not), newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<OutboxAlert>> ListAlertsAsync(string project, int limit = 1000, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes alert actions delivered more than <paramref name="keep"/> ago (undelivered ones always stay), so the
    /// outbox does not grow without end; returns how many went. A window's alert is stored with its results, and a
    /// stored window is never evaluated again, so a pruned alert cannot fire twice.
    /// </summary>
    Task<int> PruneDeliveredAlertsAsync(TimeSpan keep, CancellationToken cancellationToken = default);
}
