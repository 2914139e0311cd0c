namespace Strata.Data;

// The Arrow IPC branch of DataFiles; wired to Strata.Data.Arrow once that reader lands.
public static partial class DataFiles
{
    private static Task<ReadResult> ReadArrowAsync(string path, DataReadOptions options, CancellationToken cancellationToken) =>
        throw new StrataException(ErrorCodes.DataUnsupported, $"{path}: Arrow IPC is not readable in this build yet");

    private static IAsyncEnumerable<Table> ReadArrowBatchesAsync(string path, DataReadOptions options, CancellationToken cancellationToken) =>
        throw new StrataException(ErrorCodes.DataUnsupported, $"{path}: Arrow IPC is not readable in this build yet");

    private static Task<Schema> ReadArrowSchemaAsync(string path, DataReadOptions options, CancellationToken cancellationToken) =>
        throw new StrataException(ErrorCodes.DataUnsupported, $"{path}: Arrow IPC is not readable in this build yet");

    private static Task WriteArrowAsync(Table table, string path, CancellationToken cancellationToken) =>
        throw new StrataException(ErrorCodes.DataUnsupported, $"{path}: Arrow IPC is not writable in this build yet");
}
