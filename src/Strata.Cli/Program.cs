using Strata.Cli;

// `strata serve` starts itself again under dynamic PGO, before anything else runs (a long-running server's setting).
if (StrataCli.IsServe(args))
{
    ServeProcess.UseDynamicPgo();
}

return await StrataCli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
