using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Strata.Data.Yaml;

/// <summary>
/// Loads YAML text into nodes, turning every way YamlDotNet refuses it into the caller's error: besides its
/// <see cref="YamlException"/> (with a line) it throws a bare <see cref="ArgumentException"/> for a repeated key and an
/// <see cref="InvalidOperationException"/> from its scanner for some broken flow collections, which would otherwise
/// escape as an unexpected failure (a server that will not start, with a stack trace).
/// </summary>
internal static class YamlText
{
    /// <summary>The loaded stream; <paramref name="refuse"/> makes the exception thrown for text that is not YAML (the line when known).</summary>
    public static YamlStream Load(string text, Func<Exception, long?, Exception> refuse)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(refuse);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw refuse(e, e.Start.Line);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw refuse(e, null);
        }

        return stream;
    }
}
