using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Features.OnlineStore;

public sealed class EmbeddedOnlineStoreConformanceTests : OnlineStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new("online-conformance");

    protected override Task<IOnlineStore> OpenStoreAsync(IReadOnlyList<FeatureViewLayout> views) =>
        Task.FromResult<IOnlineStore>(EmbeddedOnlineStore.Open(_folder.Path, views));

    public void Dispose() => _folder.Dispose();
}
