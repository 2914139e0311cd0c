namespace Strata.Learning.Gbdt;

/// <summary>
/// Runs independent work items on up to a given number of threads. Callers only ever split work so that each result is
/// computed by one item in a fixed order, which keeps the model independent of the thread count.
/// </summary>
internal static class Parallelism
{
    public static int Threads(int requested) => requested > 0 ? requested : Environment.ProcessorCount;

    public static void For(int count, int threads, Action<int> body)
    {
        if (threads <= 1 || count <= 1)
        {
            for (var i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}
