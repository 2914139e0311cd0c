namespace Strata.Server;

/// <summary>The server's entry point; tests start it with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program
{
    /// <summary>Not instantiated: the class exists for its entry point and as the factory's marker type.</summary>
    protected Program()
    {
    }

    /// <summary>Runs the server until it is stopped (Ctrl-C, SIGTERM).</summary>
    public static async Task Main(string[] args)
    {
        var app = StrataServer.Build(args);
        await app.RunAsync().ConfigureAwait(false);
    }
}
