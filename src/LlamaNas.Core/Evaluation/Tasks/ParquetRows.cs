using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using Parquet.Serialization;

namespace LlamaNas.Core.Evaluation.Tasks;

/// <summary>
/// Parquet files as the Hugging Face hub stores datasets, read with Parquet.Net's untyped reader: every row becomes a
/// JSON object, struct columns nested objects and list columns arrays (ARC's <c>choices.text</c>, TruthfulQA's
/// <c>mc1_targets.labels</c>), so tasks read all formats through one <see cref="DataRow"/> path. A row's "line" is its
/// 1-based row number.
/// </summary>
internal static class ParquetRows
{
    /// <summary>How long a Parquet read may take before the file counts as damaged (plus 1 s per MB); tests shorten it.</summary>
    internal static TimeSpan ReadDeadline { get; set; } = TimeSpan.FromSeconds(20);

    public static List<DataRow> Read(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path);
        using var stream = new MemoryStream(bytes);
        IList<Dictionary<string, object>> data;
        try
        {
            // Parquet.Net 6.1 can spin forever on a damaged footer (reading past its end yields 0xFF bytes, a varint
            // that never ends). The read runs on a background thread of its own, abandoned after a deadline.
            var read = Task.Factory.StartNew(() => ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var deadline = ReadDeadline + TimeSpan.FromSeconds(bytes.Length / 1e6);
            if (!read.Wait(deadline))
            {
                throw new LlamaNasException(DiagnosticCodes.EvalParquetUnreadable, $"not a readable Parquet file: the reader did not finish within {deadline.TotalSeconds:F0} s, so its footer is most likely damaged", new DiagnosticLocation(path));
            }

            data = read.Result.Data;
        }
        catch (AggregateException e) when (e.InnerException is { } inner)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalParquetUnreadable, $"not a readable Parquet file: {inner.Message}", new DiagnosticLocation(path), inner);
        }
        catch (Exception e) when (e is not LlamaNasException)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalParquetUnreadable, $"not a readable Parquet file: {e.Message}", new DiagnosticLocation(path), e);
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteValue(writer, data);
        }

        // One document for the whole file, never disposed: its rows' elements point into it.
        var array = JsonDocument.Parse(buffer.ToArray()).RootElement;
        return [.. Enumerable.Range(0, data.Count).Select(i => new DataRow(path, i + 1, array[i], isParquetRow: true))];
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case ReadOnlyMemory<char> chars:
                writer.WriteStringValue(chars.Span);
                break;
            case byte[] bytes:
                writer.WriteStringValue(Encoding.UTF8.GetString(bytes));
                break;
            case ReadOnlyMemory<byte> bytes:
                writer.WriteStringValue(Encoding.UTF8.GetString(bytes.Span));
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case sbyte or byte or short or ushort or int or uint or long:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                writer.WriteNumberValue(u);
                break;
            case float or double or decimal:
                writer.WriteNumberValue(Convert.ToDouble(value, CultureInfo.InvariantCulture));
                break;
            case IEnumerable<KeyValuePair<string, object>> map:
                writer.WriteStartObject();
                foreach (var (key, item) in map)
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }
}
