using Strata.Artifacts;
using Strata.Testing;

namespace Strata.Tests.Artifacts;

public sealed class DurableFileTests : IDisposable
{
    private readonly TempFolder _folder = new("durable");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_durable_write_leaves_only_the_target()
    {
        await DurableFile.WriteAsync(_folder.File("snapshot-001"), (s, ct) => s.WriteAsync("data"u8.ToArray(), ct).AsTask());

        Assert.Equal(["snapshot-001"], Directory.EnumerateFileSystemEntries(_folder.Path).Select(Path.GetFileName));
        Assert.Equal("data", await File.ReadAllTextAsync(_folder.File("snapshot-001")));
    }

    [Fact]
    public void Temporaries_of_interrupted_writes_are_deleted_by_name_prefix_and_nothing_else()
    {
        _folder.WriteText(".snapshot-001.4242.0123456789abcdef.tmp", "torn");
        _folder.WriteText(".snapshot-002.4242.fedcba9876543210.tmp", "torn");
        _folder.WriteText(".log-001.4242.0123456789abcdef.tmp", "other target");
        _folder.WriteText("snapshot-001", "kept");

        DurableFile.DeleteTemporaries(_folder.Path, "snapshot-");

        Assert.Equal([".log-001.4242.0123456789abcdef.tmp", "snapshot-001"], Directory.EnumerateFiles(_folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
