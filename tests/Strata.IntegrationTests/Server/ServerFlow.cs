using System.Security.Cryptography;
using System.Text;
using Strata.Api;
using Strata.Client;
using Strata.Stores;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The whole life of a model through the typed client, written once and run on every host and backend: a project and
/// a key per role, an experiment and runs, a logged batch, a paged search, a run file streamed up and down, a package
/// registered two ways, a promotion requested by an editor and approved by a deployer, the alias resolved at a past
/// time, the model's upstream lineage, and an intact audit chain that names who did what in which request.
/// </summary>
internal static class ServerFlow
{
    public static async Task RunAsync(Func<string?, StrataClient> connect, string rootToken)
    {
        using var root = connect(rootToken);
        var project = "flow-" + Guid.NewGuid().ToString("N")[..8];
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1);
        await root.CreateProjectAsync(project, "end to end");
        var tokens = new Dictionary<Role, string>();
        foreach (var role in Enum.GetValues<Role>())
        {
            var created = await root.CreateKeyAsync(project, new CreateKeyRequest($"{role.ToString().ToLowerInvariant()}-user", role, "flow"));
            Assert.StartsWith("strata_", created.Token, StringComparison.Ordinal);
            tokens[role] = created.Token;
        }

        using var viewer = connect(tokens[Role.Viewer]);
        using var editor = connect(tokens[Role.Editor]);
        using var deployer = connect(tokens[Role.Deployer]);
        using var admin = connect(tokens[Role.Admin]);
        Assert.Equal(new WhoAmI("editor-user", (await editor.WhoAmIAsync()).KeyId, project, Role.Editor), await editor.WhoAmIAsync());
        Assert.Equal([project], (await editor.ListProjectsAsync()).Select(p => p.Name));
        Assert.DoesNotContain(await admin.ListKeysAsync(project), k => k.Revoked);

        // Tracking: runs with metrics, a search paged one run at a time.
        await editor.CreateExperimentAsync(project, "delays", new Dictionary<string, string> { ["team"] = "ml" });
        var dataDigest = Convert.ToHexStringLower(SHA256.HashData("flights data"u8));
        var runs = new List<Run>();
        foreach (var (auc, depth) in new[] { (0.6, "4"), (0.8, "6"), (0.7, "8") })
        {
            var run = await editor.CreateRunAsync(project, new CreateRunRequest
            {
                Experiment = "delays",
                Params = new Dictionary<string, string> { ["depth"] = depth },
                Source = new RunSource("abc123", false, new Dictionary<string, string> { ["flights.csv"] = dataDigest }, ".NET 10", new Dictionary<string, string>(), "strata train"),
            });
            await editor.LogBatchAsync(project, run.Id, new LogBatchRequest([new("auc", auc - 0.1, 0, 0), new("auc", auc, 1, 0)], null, new Dictionary<string, string> { ["stage"] = "eval" }));
            runs.Add(await editor.EndRunAsync(project, run.Id, RunStatus.Finished));
        }

        var best = runs[1];
        Assert.Equal((RunStatus.Finished, 0.8), (best.Status, best.Metrics["auc"]));
        var search = new RunSearchRequest { Experiments = ["delays"], Filter = "metrics.auc > 0.65", OrderBy = "metrics.auc desc", MaxResults = 1 };
        var first = await viewer.SearchRunsAsync(project, search);
        var second = await viewer.SearchRunsAsync(project, search with { PageToken = first.NextPageToken });
        Assert.Equal([best.Id, runs[2].Id], first.Runs.Concat(second.Runs).Select(r => r.Id));
        Assert.Null(second.NextPageToken);
        Assert.Equal([(0L, 0.8 - 0.1), (1L, 0.8)], (await viewer.GetMetricHistoryAsync(project, best.Id, "auc")).Select(p => (p.Step, p.Value)));

        // A run's file, streamed up and down; its name is metadata, its bytes are addressed by digest.
        var plot = Encoding.UTF8.GetBytes("<svg>roc</svg>");
        var uploaded = await editor.UploadRunArtifactAsync(project, best.Id, "plots/roc.svg", new MemoryStream(plot));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(plot)), uploaded.Digest);
        Assert.Equal(new RunArtifactInfo("plots/roc.svg", uploaded.Digest, plot.Length), Assert.Single(await viewer.ListRunArtifactsAsync(project, best.Id)));
        Assert.Equal(plot, await ReadAllAsync(await viewer.DownloadRunArtifactAsync(project, best.Id, "plots/roc.svg")));

        // Two versions: one from an uploaded package's digest, one uploaded and registered in one call.
        await editor.CreateModelAsync(project, "delay", "predicts delays");
        var package1 = Encoding.UTF8.GetBytes("model package one");
        var blob = await editor.UploadArtifactAsync(project, new MemoryStream(package1));
        var v1 = await editor.RegisterVersionAsync(project, "delay", new RegisterVersionRequest
        {
            ArtifactDigest = blob.Digest,
            RunId = best.Id,
            Signature = """{"inputs":[{"name":"distance","type":"float64"}],"outputs":[{"name":"delay","type":"float64"}]}""",
            Learner = "gbdt",
            Metrics = new Dictionary<string, double> { ["auc"] = 0.8 },
        });
        Assert.Equal((1, blob.Size, "gbdt"), (v1.Version, v1.ArtifactSize, v1.Learner));
        var v2 = await editor.UploadVersionAsync(project, "delay", new RegisterVersionRequest { RunId = runs[2].Id, Learner = "logistic" }, new MemoryStream("model package two"u8.ToArray()));
        Assert.Equal(2, v2.Version);
        Assert.Equal(package1, await ReadAllAsync(await viewer.DownloadPackageAsync(project, "delay", 1)));

        // Promotion: the editor's request waits; only a deployer may decide.
        var pending = await editor.SetAliasAsync(project, "delay", "champion", 1, "best auc");
        Assert.Equal(AliasOutcome.Pending, pending.Outcome);
        var requestId = pending.Promotion!.Id;
        Assert.Equal(404, (await Assert.ThrowsAsync<StrataApiException>(() => viewer.GetAliasAsync(project, "delay", "champion"))).Status);
        var refused = await Assert.ThrowsAsync<StrataApiException>(() => editor.ApprovePromotionAsync(project, requestId));
        Assert.Equal((ErrorCodes.Forbidden, 403), (refused.Code, refused.Status));
        Assert.False(string.IsNullOrEmpty(refused.RequestId));
        var approved = await deployer.ApprovePromotionAsync(project, requestId, "looks good");
        Assert.Equal((ApprovalStatus.Approved, "deployer-user"), (approved.Status, approved.DecidedBy));
        Assert.Equal(1, (await viewer.GetAliasAsync(project, "delay", "champion")).Version);
        await Task.Delay(20);
        var t1 = DateTimeOffset.UtcNow;
        await Task.Delay(20);

        // A deployer's own move of a protected alias still files a request and approves it: both are on the record.
        var direct = await deployer.SetAliasAsync(project, "delay", "champion", 2, "v2 wins");
        Assert.Equal((AliasOutcome.Approved, 2, "deployer-user", "deployer-user"), (direct.Outcome, direct.Alias!.Version, direct.Promotion!.RequestedBy, direct.Promotion.DecidedBy));
        Assert.Equal(AliasOutcome.Moved, (await editor.SetAliasAsync(project, "delay", "staging", 2)).Outcome);
        var rejected = await editor.RequestPromotionAsync(project, "delay", "champion", 1);
        Assert.Equal(ApprovalStatus.Rejected, (await deployer.RejectPromotionAsync(project, rejected.Id, "no")).Status);
        Assert.Equal(2, (await viewer.ListPromotionsAsync(project, "delay", ApprovalStatus.Approved)).Count);

        Assert.Null((await viewer.ResolveAliasAsync(project, "delay", "champion", t0)).Version);
        Assert.Equal(1, (await viewer.ResolveAliasAsync(project, "delay", "champion", t1)).Version);
        Assert.Equal(2, (await viewer.ResolveAliasAsync(project, "delay", "champion", DateTimeOffset.UtcNow.AddSeconds(1))).Version);
        var history = await viewer.GetAliasHistoryAsync(project, "delay", "champion");
        Assert.Equal([(int?)1, 2], history.Select(m => m.ToVersion));
        Assert.All(history, m => Assert.NotNull(m.ApprovalId));
        Assert.Equal(["champion", "staging"], (await viewer.ListAliasesAsync(project, "delay")).Select(a => a.Alias));

        // Lineage: the model came from the run, which read the data set.
        var lineage = await viewer.GetVersionLineageAsync(project, "delay", 1);
        Assert.Contains(lineage.Artifacts, a => a.Type == "model" && a.Digest == blob.Digest);
        Assert.Contains(lineage.Artifacts, a => a.Type == "dataset" && a.Name == "flights.csv" && a.Digest == dataDigest);
        Assert.Contains(lineage.Executions, e => e.Id == best.Id && e.Type == "run");
        var deep = await Assert.ThrowsAsync<Strata.Client.StrataApiException>(() => viewer.GetVersionLineageAsync(project, "delay", 1, depth: 1000));
        Assert.Equal((ErrorCodes.ArgumentInvalid, "field 'depth' must be between 1 and 256, not 1000"), (deep.Code, deep.Message));

        // Audit: intact, and it names who asked and who approved, each with its request id.
        Assert.True((await root.VerifyAuditAsync()).Intact);
        Assert.True((await admin.VerifyAuditAsync(project)).Intact);
        var audit = await admin.ReadAuditAsync(project, 1, 1000);
        var request = Assert.Single(audit, e => e.Action == "model.promotion.request" && e.Details!.Contains(requestId, StringComparison.Ordinal));
        var approval = Assert.Single(audit, e => e.Action == "model.promotion.approve" && e.Target == requestId);
        Assert.Equal(("editor-user", "deployer-user"), (request.Principal, approval.Principal));
        Assert.All(audit, e => Assert.False(string.IsNullOrEmpty(e.RequestId)));
        Assert.All(audit, e => Assert.True(e.Project == project || e.Project == "*", e.Project));
        var forbidden = await Assert.ThrowsAsync<StrataApiException>(() => deployer.ReadAuditAsync(project));
        Assert.Equal(403, forbidden.Status);
        var missing = await Assert.ThrowsAsync<StrataApiException>(() => viewer.GetModelAsync(project, "no-such-model"));
        Assert.Equal((ErrorCodes.NotFound, 404), (missing.Code, missing.Status));
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        }
    }
}
