using System.Diagnostics.Metrics;

namespace Strata.Server.Http;

/// <summary>
/// Counts the connections Kestrel ends for an error, by its reason (a malformed request line or headers, headers over
/// the limit, a client too slow to send them): such a request never reaches the middleware, so neither the request
/// metrics nor the access log see it, and a client sending garbage would otherwise leave no trace.
/// </summary>
internal sealed class ConnectionErrors : IHostedService, IDisposable
{
    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";
    private const string ConnectionDuration = "kestrel.connection.duration";
    private readonly MeterListener _listener = new();

    public ConnectionErrors(ServerMetrics metrics, IMeterFactory meters)
    {
        var counter = metrics.ConnectionErrors;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // This server's Kestrel only: a process may host several servers (tests), each with its own meter factory.
            if (instrument.Meter.Name == KestrelMeter && ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == ConnectionDuration)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };

        // error.type is set only when a connection ends for an error (Kestrel's end reasons are a closed set, so the label's values are bounded).
        _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "error.type" && tag.Value is string reason)
                {
                    counter.Labels(reason).Inc();
                    return;
                }
            }
        });
        _listener.Start();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener.Dispose();
}
