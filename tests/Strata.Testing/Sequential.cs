namespace Strata.Testing;

/// <summary>
/// The name of the collection whose tests measure the whole process (allocated bytes, peak memory): they run alone,
/// after the parallel ones, so other tests' allocations do not count against them. Each test assembly defines it with
/// <c>DisableParallelization = true</c>.
/// </summary>
public static class Sequential
{
    public const string Name = "Sequential (process-wide measurements)";
}
