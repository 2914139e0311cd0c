namespace Strata.Learning;

/// <summary>Loads a model from a file of any supported kind: a Strata model package, or an XGBoost JSON model.</summary>
public static class ModelFiles
{
    /// <summary>Loads a model, telling the kind from the file's first bytes.</summary>
    /// <exception cref="StrataException">Missing file, unknown kind, or a package/model that fails validation.</exception>
    public static async Task<Model> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new StrataException(ErrorCodes.NotFound, $"{path}: no such model file");
        }

        var head = await HeadAsync(path, cancellationToken).ConfigureAwait(false);
        if (ModelPackage.IsPackage(head))
        {
            return await ModelPackage.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        }

        var text = head.AsSpan().TrimStart(" \t\r\n"u8);
        if (text.Length > 0 && text[0] == '{')
        {
            return XGBoostImporter.Load(path);
        }

        throw new StrataException(ErrorCodes.DataUnsupported, $"{path} is neither a Strata model package nor an XGBoost JSON model");
    }

    /// <summary>True when the file starts like a Strata model package (false for XGBoost JSON or anything else).</summary>
    public static async Task<bool> IsPackageAsync(string path, CancellationToken cancellationToken = default) =>
        ModelPackage.IsPackage(await HeadAsync(path, cancellationToken).ConfigureAwait(false));

    private static async Task<byte[]> HeadAsync(string path, CancellationToken cancellationToken)
    {
        var head = new byte[16];
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return head[..read];
        }
    }
}
