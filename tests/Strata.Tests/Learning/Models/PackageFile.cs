using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Strata.Learning;

namespace Strata.Tests.Learning.Models;

/// <summary>
/// A model package taken apart by the documented layout (docs/model-package.md), so tests can change one part and put
/// it back together with a consistent header: a hostile file that passes the digests and reaches the deeper checks.
/// </summary>
internal sealed class PackageFile
{
    private PackageFile(byte[] header, string manifest, byte[] data)
    {
        Header = header;
        Manifest = manifest;
        Data = data;
    }

    public byte[] Header { get; }

    public string Manifest { get; set; }

    public byte[] Data { get; set; }

    public static async Task<byte[]> BytesOf(Model model)
    {
        using var stream = new MemoryStream();
        await ModelPackage.SaveAsync(model, stream);
        return stream.ToArray();
    }

    public static PackageFile Parse(byte[] package)
    {
        var manifestLength = (int)BinaryPrimitives.ReadInt64LittleEndian(package.AsSpan(16));
        var dataStart = ModelPackage.HeaderBytes + ((manifestLength + 7) & ~7);
        return new PackageFile(
            package[..ModelPackage.HeaderBytes],
            Encoding.UTF8.GetString(package, ModelPackage.HeaderBytes, manifestLength),
            package[dataStart..]);
    }

    public JsonObject ManifestJson() => JsonNode.Parse(Manifest)!.AsObject();

    /// <summary>An array's bytes in the data section (by the manifest's offset and length).</summary>
    public Span<byte> Array(string name, out int elementSize)
    {
        var entry = ManifestJson()["arrays"]!.AsArray().First(a => (string)a!["name"]! == name)!;
        elementSize = (string)entry["type"]! switch { "float64" => 8, "uint8" => 1, _ => 4 };
        return Data.AsSpan((int)(long)entry["offset"]!, (int)((long)entry["length"]! * elementSize));
    }

    /// <summary>Rewrites every array digest in the manifest to match the data section as it now is.</summary>
    public void FixDigests()
    {
        var json = ManifestJson();
        foreach (var entry in json["arrays"]!.AsArray())
        {
            var size = (string)entry!["type"]! switch { "float64" => 8, "uint8" => 1, _ => 4 };
            var offset = (long)entry["offset"]!;
            var length = (long)entry["length"]! * size;
            if (offset >= 0 && length >= 0 && offset + length <= Data.Length)
            {
                entry["sha256"] = Convert.ToHexStringLower(SHA256.HashData(Data.AsSpan((int)offset, (int)length)));
            }
        }

        Manifest = json.ToJsonString();
    }

    /// <summary>The package with a header that agrees with the manifest and data as they now are.</summary>
    public byte[] Build()
    {
        var manifest = Encoding.UTF8.GetBytes(Manifest);
        var padded = (manifest.Length + 7) & ~7;
        var bytes = new byte[ModelPackage.HeaderBytes + padded + Data.Length];
        Header.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), manifest.Length);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(24), Data.Length);
        SHA256.HashData(manifest, bytes.AsSpan(32, 32));
        manifest.CopyTo(bytes, ModelPackage.HeaderBytes);
        Data.CopyTo(bytes, ModelPackage.HeaderBytes + padded);
        return bytes;
    }
}
