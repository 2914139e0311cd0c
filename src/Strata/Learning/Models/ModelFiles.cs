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

        var head = new byte[16];
        int read;
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }

        if (ModelPackage.IsPackage(head.AsSpan(0, read)))
        {
            return await ModelPackage.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        }

        var text = head.AsSpan(0, read).TrimStart(" \t\r\n"u8);
        if (text.Length > 0 && text[0] == '{')
        {
            return XGBoostImporter.Load(path);
        }

        throw new StrataException(ErrorCodes.DataUnsupported, $"{path} is neither a Strata model package nor an XGBoost JSON model");
    }
}
