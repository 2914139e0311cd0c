using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;

namespace Strata.Testing;

/// <summary>Puts a model a test trained into a home's registry, where the serving runtime loads it from.</summary>
public static class TestModels
{
    /// <summary>Creates model <paramref name="name"/> in <paramref name="project"/> and uploads <paramref name="model"/> as its first version.</summary>
    public static async Task RegisterAsync(StrataHome home, string project, string name, Model model)
    {
        ArgumentNullException.ThrowIfNull(home);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateModelAsync(Caller.Local, project, name, null, null).ConfigureAwait(false);
        using var package = new MemoryStream();
        await ModelPackage.SaveAsync(model, package).ConfigureAwait(false);
        package.Position = 0;
        await registry.UploadVersionAsync(Caller.Local, project, name, new VersionRegistration(), package).ConfigureAwait(false);
    }
}
