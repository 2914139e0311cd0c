using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Strata.Artifacts;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Artifacts;

public sealed class FileArtifactStoreTests : IDisposable
{
    private readonly TempFolder _folder = new("artifacts");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private FileArtifactStore Store() => new(Path.Combine(_folder.Path, "objects"));

    private static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Content_is_addressed_by_its_sha256_and_stored_once()
    {
        var store = Store();
        var a = await store.PutAsync(Content("hello"), 1000);
        var b = await store.PutAsync(Content("hello"), 1000);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("hello"u8)), a.Digest);
        Assert.Equal(a, b);
        Assert.Single(Directory.GetFiles(Path.Combine(_folder.Path, "objects", "sha256"), "*", SearchOption.AllDirectories));
        await using var read = await store.OpenReadAsync(a.Digest);
        Assert.Equal("hello", await new StreamReader(read).ReadToEndAsync());
        Assert.Equal(5, await store.GetSizeAsync(a.Digest));
    }

    [Fact]
    public async Task A_corrupted_blob_is_reported_and_never_served()
    {
        var store = Store();
        var blob = await store.PutAsync(Content("model bytes"), 1000);
        var path = Path.Combine(_folder.Path, "objects", "sha256", blob.Digest[..2], blob.Digest[2..]);
        await File.WriteAllTextAsync(path, "model bytez");

        var e = await Assert.ThrowsAsync<StrataException>(() => store.OpenReadAsync(blob.Digest));
        Assert.Contains("corrupted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_uploads_are_refused_and_leave_nothing_behind()
    {
        var store = Store();
        var e = await Assert.ThrowsAsync<StrataException>(() => store.PutAsync(new MemoryStream(new byte[5000]), 4096));

        Assert.Equal(ErrorCodes.DataLimit, e.Code);
        Assert.Empty(Directory.GetFiles(_folder.Path, "*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde/")]
    [InlineData("")]
    public async Task Anything_but_a_digest_is_refused_as_a_name(string digest)
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => Store().OpenReadAsync(digest));
        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
    }

    [Fact]
    public async Task Garbage_collection_deletes_only_unreferenced_blobs_older_than_the_grace_period()
    {
        var store = Store();
        await using var metadata = await SqliteMetadataStore.OpenAsync(_folder.File("strata.db"));
        await metadata.Projects.CreateAsync("p", null, Actor.Local);
        await metadata.Registry.CreateModelAsync("p", "m", null, null, Actor.Local);
        var kept = await store.PutAsync(Content("referenced"), 1000);
        var orphan = await store.PutAsync(Content("orphan"), 1000);
        var fresh = await store.PutAsync(Content("just written"), 1000);
        await metadata.Registry.CreateVersionAsync("p", "m", new ModelVersionSpec { ArtifactDigest = kept.Digest, ArtifactSize = kept.Size }, Actor.Local);
        foreach (var digest in new[] { kept.Digest, orphan.Digest })
        {
            File.SetLastWriteTimeUtc(Path.Combine(_folder.Path, "objects", "sha256", digest[..2], digest[2..]), DateTime.UtcNow.AddHours(-2));
        }

        var dry = await ArtifactGarbageCollector.CollectAsync(store, metadata, TimeSpan.FromHours(1), TimeSpan.FromDays(30), dryRun: true);
        Assert.Equal((3, 1, 1, 1), (dry.Blobs, dry.Referenced, dry.Deleted, dry.KeptForGrace));
        Assert.NotNull(await store.GetSizeAsync(orphan.Digest));

        var report = await ArtifactGarbageCollector.CollectAsync(store, metadata, TimeSpan.FromHours(1), TimeSpan.FromDays(30));
        Assert.Equal(1, report.Deleted);
        Assert.Null(await store.GetSizeAsync(orphan.Digest));
        Assert.NotNull(await store.GetSizeAsync(kept.Digest));
        Assert.NotNull(await store.GetSizeAsync(fresh.Digest));
    }

    [Fact]
    public async Task A_deleted_version_keeps_its_package_until_the_retention_ends()
    {
        var store = Store();
        var clock = new ManualClock();
        await using var metadata = await SqliteMetadataStore.OpenAsync(_folder.File("strata.db"), clock);
        await metadata.Projects.CreateAsync("p", null, Actor.Local);
        await metadata.Registry.CreateModelAsync("p", "m", null, null, Actor.Local);
        var blob = await store.PutAsync(Content("package"), 1000);
        File.SetLastWriteTimeUtc(Path.Combine(_folder.Path, "objects", "sha256", blob.Digest[..2], blob.Digest[2..]), clock.Peek().UtcDateTime.AddDays(-1));
        await metadata.Registry.CreateVersionAsync("p", "m", new ModelVersionSpec { ArtifactDigest = blob.Digest, ArtifactSize = blob.Size }, Actor.Local);
        await metadata.Registry.SetVersionStatusAsync("p", "m", 1, VersionStatus.Deleted, Actor.Local);

        var early = await ArtifactGarbageCollector.CollectAsync(store, metadata, TimeSpan.FromHours(1), TimeSpan.FromDays(30), clock);
        Assert.Equal(0, early.Deleted);
        clock.Advance(TimeSpan.FromDays(31));
        var late = await ArtifactGarbageCollector.CollectAsync(store, metadata, TimeSpan.FromHours(1), TimeSpan.FromDays(30), clock);
        Assert.Equal(1, late.Deleted);
    }
}
