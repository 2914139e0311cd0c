using Strata.Cli;

// `strata serve` starts itself again under dynamic PGO before it runs (a long-running server's setting).
return await StrataCli.RunAsync(args, Console.Out, Console.Error, beforeServe: ServeProcess.UseDynamicPgo).ConfigureAwait(false);
