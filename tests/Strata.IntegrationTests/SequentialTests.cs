using Strata.Testing;

namespace Strata.IntegrationTests;

/// <summary>The test assembly's definition of the <see cref="Sequential"/> collection (xunit finds definitions per assembly).</summary>
[CollectionDefinition(Sequential.Name, DisableParallelization = true)]
public sealed class SequentialTests;
