using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Strata.Artifacts;

namespace Strata.Learning;

/// <summary>
/// The single-file model package: a fixed header, a JSON manifest (what the model is: kind, learner, task, signature,
/// class labels, transform, settings, metrics, training-data fingerprint, and the list of parameter arrays with their
/// types, lengths and SHA-256 digests), then the arrays as little-endian binary, each on an 8-byte boundary. The layout
/// is documented in <c>docs/model-package.md</c>. Loading validates every byte it uses before it trusts it; nothing in a
/// package is executed.
/// </summary>
public static class ModelPackage
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Bytes of the fixed header that starts every package.</summary>
    internal const int HeaderBytes = 64;

    // PNG-style magic: a high byte (catches 7-bit transfers), "SMP", CR LF (catches newline conversion), EOF, LF.
    private static ReadOnlySpan<byte> Magic => [0x89, (byte)'S', (byte)'M', (byte)'P', 0x0D, 0x0A, 0x1A, 0x0A];

    private const int ChunkBytes = 1 << 16;

    /// <summary>True when bytes start like a model package (for telling packages from other model files).</summary>
    public static bool IsPackage(ReadOnlySpan<byte> header) => header.StartsWith(Magic);

    /// <summary>Writes a model package to a file, crash-safely (temporary file, fsync, rename; see <see cref="DurableFile"/>).</summary>
    public static Task SaveAsync(Model model, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return DurableFile.WriteAsync(path, (stream, ct) => SaveAsync(model, stream, ct), cancellationToken);
    }

    /// <summary>Writes a model package to a stream. The same model always gives the same bytes.</summary>
    public static async Task SaveAsync(Model model, Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var parameters = model.ToParameters();
        var header = ModelKinds.HeaderOf(model);

        // Ordinal name order, so the bytes do not depend on the order a model added its arrays.
        var arrays = parameters.Arrays.OrderBy(a => a.Key, StringComparer.Ordinal).ToList();
        var entries = new List<PackageArray>(arrays.Count);
        long offset = 0;
        foreach (var (name, array) in arrays)
        {
            var type = ElementTypes.Of(array);
            var entry = new PackageArray(name, type, array.LongLength, offset, Digest(array, type));
            entries.Add(entry);
            offset = Align8(offset + entry.ByteLength);
        }

        var manifest = PackageManifest.Write(header, parameters, entries);
        var fixedHeader = new byte[HeaderBytes];
        Magic.CopyTo(fixedHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedHeader.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedHeader.AsSpan(12), 0);
        BinaryPrimitives.WriteInt64LittleEndian(fixedHeader.AsSpan(16), manifest.Length);
        BinaryPrimitives.WriteInt64LittleEndian(fixedHeader.AsSpan(24), offset);
        SHA256.HashData(manifest, fixedHeader.AsSpan(32, 32));

        await stream.WriteAsync(fixedHeader, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(manifest, cancellationToken).ConfigureAwait(false);
        await WritePaddingAsync(stream, manifest.Length, cancellationToken).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (var i = 0; i < arrays.Count; i++)
            {
                var array = arrays[i].Value;
                var total = entries[i].ByteLength;
                for (long at = 0; at < total; at += ChunkBytes)
                {
                    var n = (int)Math.Min(ChunkBytes, total - at);
                    CopyOut(array, entries[i].Type, at, buffer.AsSpan(0, n));
                    await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }

                await WritePaddingAsync(stream, total, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads a model package from a file with the default limits.</summary>
    /// <exception cref="StrataException">The file is missing (<see cref="ErrorCodes.NotFound"/>), truncated or malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or of a newer format version.</exception>
    public static Task<Model> LoadAsync(string path, CancellationToken cancellationToken = default) =>
        LoadAsync(path, ModelPackageLimits.Default, cancellationToken);

    /// <summary>Reads a model package from a file.</summary>
    /// <exception cref="StrataException">The file is missing (<see cref="ErrorCodes.NotFound"/>), truncated or malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or of a newer format version.</exception>
    public static async Task<Model> LoadAsync(string path, ModelPackageLimits limits, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(limits);
        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no model package at '{path}'", e);
        }

        await using (stream.ConfigureAwait(false))
        {
            return await LoadCoreAsync(stream, path, limits, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a model package from a stream (from its current position to its end) with the default limits.</summary>
    /// <exception cref="StrataException">The package is truncated or malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or of a newer format version.</exception>
    public static Task<Model> LoadAsync(Stream stream, CancellationToken cancellationToken = default) =>
        LoadAsync(stream, ModelPackageLimits.Default, cancellationToken);

    /// <summary>Reads a model package from a stream (from its current position to its end).</summary>
    /// <exception cref="StrataException">The package is truncated or malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or of a newer format version.</exception>
    public static Task<Model> LoadAsync(Stream stream, ModelPackageLimits limits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        return LoadCoreAsync(stream, "model package", limits, cancellationToken);
    }

    private static async Task<Model> LoadCoreAsync(Stream stream, string input, ModelPackageLimits limits, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadAsync(stream, input, limits, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            // Sizes are checked against the stream's length first; this happens only when the stream ends before its
            // length says (a file cut while it was read).
            throw new DataFormatException(ErrorCodes.DataMalformed, "truncated: the package ended early", new DataLocation(input), e);
        }
    }

    private static async Task<Model> ReadAsync(Stream stream, string input, ModelPackageLimits limits, CancellationToken cancellationToken)
    {
        if (!stream.CanSeek)
        {
            // Lengths are checked against the real size before anything is allocated, so an unseekable stream is first
            // buffered (growing with what actually arrives, up to the limit).
            var copy = await BufferAsync(stream, input, limits.MaxPackageBytes, cancellationToken).ConfigureAwait(false);
            await using (copy.ConfigureAwait(false))
            {
                return await LoadCoreAsync(copy, input, limits, cancellationToken).ConfigureAwait(false);
            }
        }

        var size = stream.Length - stream.Position;
        if (size > limits.MaxPackageBytes)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"{input}: {size} bytes is beyond the {limits.MaxPackageBytes}-byte package limit");
        }

        if (size < HeaderBytes)
        {
            throw Malformed(input, 0, $"truncated: {size} bytes, shorter than the {HeaderBytes}-byte header");
        }

        var fixedHeader = new byte[HeaderBytes];
        await stream.ReadExactlyAsync(fixedHeader, cancellationToken).ConfigureAwait(false);
        if (!fixedHeader.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw Malformed(input, 0, "not a Strata model package (bad magic bytes)");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader.AsSpan(8));
        if (version != FormatVersion)
        {
            throw new DataFormatException(version > FormatVersion ? ErrorCodes.DataUnsupported : ErrorCodes.DataMalformed,
                $"format version {version}; this Strata reads version {FormatVersion}", new DataLocation(input, ByteOffset: 8));
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader.AsSpan(12)) != 0)
        {
            throw Malformed(input, 12, "reserved header flags are not zero");
        }

        var manifestLength = BinaryPrimitives.ReadInt64LittleEndian(fixedHeader.AsSpan(16));
        var dataLength = BinaryPrimitives.ReadInt64LittleEndian(fixedHeader.AsSpan(24));
        if (manifestLength <= 0 || manifestLength > limits.MaxManifestBytes)
        {
            throw new DataFormatException(manifestLength <= 0 ? ErrorCodes.DataMalformed : ErrorCodes.DataLimit,
                $"manifest length {manifestLength} is outside 1..{limits.MaxManifestBytes}", new DataLocation(input, ByteOffset: 16));
        }

        if (dataLength < 0 || dataLength % 8 != 0)
        {
            throw Malformed(input, 24, $"data length {dataLength} is negative or not a multiple of 8");
        }

        var dataStart = HeaderBytes + Align8(manifestLength);
        if (dataLength != size - dataStart)
        {
            throw Malformed(input, 16, size < dataStart + dataLength
                ? $"truncated: the header declares {dataStart + dataLength} bytes, the package has {size}"
                : $"the header declares {dataStart + dataLength} bytes, the package has {size} (trailing bytes)");
        }

        var manifestBytes = new byte[Align8(manifestLength)];
        await stream.ReadExactlyAsync(manifestBytes, cancellationToken).ConfigureAwait(false);
        var manifest = manifestBytes.AsSpan(0, (int)manifestLength);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(manifest, digest);
        if (!digest.SequenceEqual(fixedHeader.AsSpan(32, 32)))
        {
            throw Malformed(input, 32, "the manifest does not match its SHA-256 digest");
        }

        if (manifestBytes.AsSpan((int)manifestLength).ContainsAnyExcept((byte)0))
        {
            throw Malformed(input, HeaderBytes + manifestLength, "manifest padding is not zero");
        }

        var content = PackageManifest.Read(manifestBytes.AsMemory(0, (int)manifestLength), input);
        var parameters = new ModelParameters(content.Kind);
        foreach (var (name, text) in content.Values)
        {
            parameters.AddValueText(name, text);
        }

        // Arrays follow each other in manifest order (checked by the manifest reader), so the last one's end bounds them
        // all: comparing it with the real remaining size before the first allocation keeps a lying length from costing memory.
        var end = content.Arrays.Count == 0 ? 0 : Align8(content.Arrays[^1].Offset + content.Arrays[^1].ByteLength);
        if (end != dataLength)
        {
            throw Malformed(input, 24, end > dataLength
                ? $"the arrays need {end} bytes, the data section has {dataLength}"
                : $"{dataLength - end} bytes of the data section belong to no array");
        }

        foreach (var entry in content.Arrays)
        {
            var array = await ReadArrayAsync(stream, entry, input, dataStart, cancellationToken).ConfigureAwait(false);
            parameters.Add(entry.Name, array);
            var padding = (int)(Align8(entry.ByteLength) - entry.ByteLength);
            if (padding > 0)
            {
                var pad = new byte[padding];
                await stream.ReadExactlyAsync(pad, cancellationToken).ConfigureAwait(false);
                if (pad.AsSpan().ContainsAnyExcept((byte)0))
                {
                    throw Malformed(input, dataStart + entry.Offset + entry.ByteLength, $"padding after array '{entry.Name}' is not zero");
                }
            }
        }

        return Build(content.Header, parameters, input);
    }

    private static Model Build(ModelHeader header, ModelParameters parameters, string input)
    {
        try
        {
            return ModelKinds.Create(header, parameters);
        }
        catch (StrataException e) when (e is not DataFormatException && e.Code == ErrorCodes.DataMalformed)
        {
            // The model's own validation (TreeEnsemble.Validate) knows what is wrong; the location says which input.
            throw new DataFormatException(e.Code, e.Message, new DataLocation(input), e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            // A model kind registered by another learner may check its parameters with BCL exceptions; a package is
            // input, so whatever it rejects is reported as malformed data.
            throw new DataFormatException(ErrorCodes.DataMalformed, $"model kind '{parameters.Kind}' rejected the parameters: {e.Message}", new DataLocation(input), e);
        }
    }

    private static async Task<Array> ReadArrayAsync(Stream stream, PackageArray entry, string input, long dataStart, CancellationToken cancellationToken)
    {
        var array = ElementTypes.Allocate(entry.Type, (int)entry.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            for (long at = 0; at < entry.ByteLength; at += ChunkBytes)
            {
                var n = (int)Math.Min(ChunkBytes, entry.ByteLength - at);
                await stream.ReadExactlyAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                hash.AppendData(buffer, 0, n);
                CopyIn(buffer.AsSpan(0, n), array, entry.Type, at);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        if (!digest.SequenceEqual(entry.Sha256))
        {
            throw Malformed(input, dataStart + entry.Offset, $"array '{entry.Name}' does not match its SHA-256 digest");
        }

        return array;
    }

    private static async Task<MemoryStream> BufferAsync(Stream stream, string input, long limit, CancellationToken cancellationToken)
    {
        var copy = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (copy.Length + n > limit)
                {
                    await copy.DisposeAsync().ConfigureAwait(false);
                    throw new StrataException(ErrorCodes.DataLimit, $"{input}: more than the {limit}-byte package limit");
                }

                copy.Write(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        copy.Position = 0;
        return copy;
    }

    private static byte[] Digest(Array array, ElementType type)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var total = array.LongLength * type.Size();
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (long at = 0; at < total; at += ChunkBytes)
            {
                var n = (int)Math.Min(ChunkBytes, total - at);
                CopyOut(array, type, at, buffer.AsSpan(0, n));
                hash.AppendData(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Copies bytes [at, at + destination.Length) of an array's little-endian image.</summary>
    private static void CopyOut(Array array, ElementType type, long at, Span<byte> destination)
    {
        Bytes(array).Slice(checked((int)at), destination.Length).CopyTo(destination);
        if (!BitConverter.IsLittleEndian)
        {
            // NOTE: chunks start at multiples of 64 KiB, so every chunk starts on an element boundary.
            SwapBytes(destination, type.Size());
        }
    }

    private static void CopyIn(ReadOnlySpan<byte> source, Array array, ElementType type, long at)
    {
        var target = Bytes(array).Slice(checked((int)at), source.Length);
        source.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
        {
            SwapBytes(target, type.Size());
        }
    }

    private static Span<byte> Bytes(Array array) => array switch
    {
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
        uint[] u => MemoryMarshal.AsBytes(u.AsSpan()),
        byte[] b => b,
        _ => throw new ArgumentException($"unsupported array type {array.GetType().Name}", nameof(array)),
    };

    private static void SwapBytes(Span<byte> bytes, int size)
    {
        if (size == 1)
        {
            return;
        }

        for (var i = 0; i + size <= bytes.Length; i += size)
        {
            bytes.Slice(i, size).Reverse();
        }
    }

    private static Task WritePaddingAsync(Stream stream, long written, CancellationToken cancellationToken)
    {
        var padding = (int)(Align8(written) - written);
        return padding == 0 ? Task.CompletedTask : stream.WriteAsync(new byte[padding], cancellationToken).AsTask();
    }

    internal static long Align8(long value) => (value + 7) & ~7L;

    internal static DataFormatException Malformed(string input, long offset, string detail) =>
        new(ErrorCodes.DataMalformed, detail, new DataLocation(input, ByteOffset: offset));
}

/// <summary>Limits a package reader enforces before it allocates: a package is input and may be hostile.</summary>
public sealed record ModelPackageLimits
{
    /// <summary>The defaults: a 16 MiB manifest and a 2 GiB package.</summary>
    public static ModelPackageLimits Default { get; } = new();

    /// <summary>Largest manifest accepted, in bytes.</summary>
    public long MaxManifestBytes { get; init; } = 16L << 20;

    /// <summary>Largest package accepted, in bytes.</summary>
    public long MaxPackageBytes { get; init; } = 2L << 30;
}

/// <summary>The element types a package stores.</summary>
internal enum ElementType
{
    Float64,
    Float32,
    Int32,
    UInt32,
    UInt8,
}

internal static class ElementTypes
{
    public static int Size(this ElementType type) => type switch
    {
        ElementType.Float64 => 8,
        ElementType.Float32 or ElementType.Int32 or ElementType.UInt32 => 4,
        _ => 1,
    };

    public static string Name(this ElementType type) => type switch
    {
        ElementType.Float64 => "float64",
        ElementType.Float32 => "float32",
        ElementType.Int32 => "int32",
        ElementType.UInt32 => "uint32",
        _ => "uint8",
    };

    public static bool TryParse(string? name, out ElementType type)
    {
        switch (name)
        {
            case "float64": type = ElementType.Float64; return true;
            case "float32": type = ElementType.Float32; return true;
            case "int32": type = ElementType.Int32; return true;
            case "uint32": type = ElementType.UInt32; return true;
            case "uint8": type = ElementType.UInt8; return true;
            default: type = default; return false;
        }
    }

    /// <summary>The element type of an array, by exact type: the runtime lets a uint[] pass as an int[] (and back).</summary>
    public static ElementType Of(Array array) => array.GetType() switch
    {
        var t when t == typeof(double[]) => ElementType.Float64,
        var t when t == typeof(float[]) => ElementType.Float32,
        var t when t == typeof(int[]) => ElementType.Int32,
        var t when t == typeof(uint[]) => ElementType.UInt32,
        var t when t == typeof(byte[]) => ElementType.UInt8,
        var t => throw new ArgumentException($"unsupported array type {t.Name}", nameof(array)),
    };

    public static Array Allocate(ElementType type, int length) => type switch
    {
        ElementType.Float64 => new double[length],
        ElementType.Float32 => new float[length],
        ElementType.Int32 => new int[length],
        ElementType.UInt32 => new uint[length],
        _ => new byte[length],
    };
}

/// <summary>One array of a package: where it is and what it must hash to.</summary>
internal sealed record PackageArray(string Name, ElementType Type, long Length, long Offset, byte[] Sha256)
{
    public long ByteLength => Length * Type.Size();
}
