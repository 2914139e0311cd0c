using Strata.Learning;
using Strata.Serving;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>What the prediction-log tests write and read back: one-row predictions, hand-made lines, the ids read.</summary>
internal static class PredictionLogSamples
{
    /// <summary>The request ids of every record in the folder's closed segments, oldest first.</summary>
    public static async Task<List<string>> RequestIdsAsync(string folder)
    {
        var ids = new List<string>();
        await foreach (var record in PredictionLogReader.ReadAsync(folder))
        {
            ids.Add(record.RequestId);
        }

        return ids;
    }

    /// <summary>Waits up to 5 s for <paramref name="condition"/> (the log's writer works on its own thread).</summary>
    public static async Task WaitAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "waited 5 s");
    }

    /// <summary>A one-row regression prediction of endpoint e with request id <paramref name="id"/>.</summary>
    public static PendingPrediction Prediction(string id)
    {
        var model = new LoadedModel("e", "m", 1, "sha256:0", XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")));
        var input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["distance"] = InputColumn.OfNumbers([258]) });
        return new PendingPrediction(1, id, "e", "p", input, new PredictionOutput(model, 1) { Values = [2.5] }, 0.25, new HashSet<string>());
    }

    /// <summary>A record's line as the log writes it, for segments made by hand.</summary>
    public static string Line(string id, long time) =>
        $"{{\"v\":1,\"time\":{time},\"request_id\":\"{id}\",\"endpoint\":\"e\",\"project\":\"p\",\"model\":\"m\",\"version\":1," +
        "\"role\":\"champion\",\"latency_ms\":0.25,\"rows\":[{\"inputs\":{\"name\":\"a\"},\"value\":2.5}]}";
}
