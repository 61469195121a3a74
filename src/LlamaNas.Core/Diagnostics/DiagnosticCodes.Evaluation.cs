namespace LlamaNas.Core.Diagnostics;

/// <summary>Evaluation codes, 0600-0649: benchmark task definitions, their data files and few-shot prompts; perplexity protocols.</summary>
public static partial class DiagnosticCodes
{
    // tasks and where their data lives (0600-0609)
    public const string EvalTaskUnknown = "LNAS0600";
    public const string EvalDataNotFound = "LNAS0601";
    public const string EvalFileFormatUnsupported = "LNAS0602";
    public const string EvalOptionsInvalid = "LNAS0603";
    public const string EvalTaskEmpty = "LNAS0604";
    public const string EvalSubsampleInvalid = "LNAS0605";

    // rows of a data file (0610-0629)
    public const string EvalRowMalformedJson = "LNAS0610";
    public const string EvalRowMissingField = "LNAS0611";
    public const string EvalRowInvalidValue = "LNAS0612";
    public const string EvalRowBadAnswer = "LNAS0613";
    public const string EvalRowWrongChoiceCount = "LNAS0614";
    public const string EvalRowNoBlank = "LNAS0615";
    public const string EvalRowUnknownField = "LNAS0616";
    public const string EvalCsvMalformed = "LNAS0617";
    public const string EvalParquetUnreadable = "LNAS0618";
    public const string EvalHellaSwagTextMalformed = "LNAS0619";
    public const string EvalRowDuplicateField = "LNAS0620";

    // few-shot prompts and user tasks (0630-0639)
    public const string EvalFewshotPoolRequired = "LNAS0630";
    public const string EvalFewshotPoolTooSmall = "LNAS0631";
    public const string EvalUserTaskHeaderInvalid = "LNAS0632";

    // perplexity protocols (0640-0649)
    public const string EvalPerplexityOptionsInvalid = "LNAS0640";
    public const string EvalPerplexityTextTooShort = "LNAS0641";
}
