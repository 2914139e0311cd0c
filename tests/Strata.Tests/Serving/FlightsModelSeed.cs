using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Serving;
using Strata.Storage;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>The flights XGBoost model registered in an embedded home, and a one-row request for it (serving and monitoring tests).</summary>
internal static class FlightsModelSeed
{
    /// <summary>Creates project flights and model delay with <paramref name="versions"/> versions of the model; returns its input names.</summary>
    public static async Task<string[]> SeedAsync(StrataHome home, int versions)
    {
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "flights", null);
        await registry.CreateModelAsync(Caller.Local, "flights", "delay", null, null);
        var model = XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json"));
        for (var v = 0; v < versions; v++)
        {
            using var package = new MemoryStream();
            await ModelPackage.SaveAsync(model, package);
            package.Position = 0;
            await registry.UploadVersionAsync(Caller.Local, "flights", "delay", new VersionRegistration(), package);
        }

        return [.. model.Signature.Inputs.Select(i => i.Name)];
    }

    /// <summary>One flight (distance 258) as a request to <paramref name="endpoint"/>.</summary>
    public static PredictionRequest Request(string[] inputs, string endpoint, string id)
    {
        double[] row = [258, 0, 4, 152, 119, 187, 22, 2.77270007, 0.0454999991, 18, 1418.5];
        var columns = inputs.Select((name, i) => (name, InputColumn.OfNumbers([row[i]]))).ToDictionary(p => p.name, p => p.Item2);
        return new PredictionRequest { Endpoint = endpoint, Input = new PredictionInput(1, columns), RequestId = id };
    }
}
