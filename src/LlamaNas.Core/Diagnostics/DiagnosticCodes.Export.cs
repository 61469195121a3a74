namespace LlamaNas.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    // model export (0260-0269)
    public const string ExportTargetNotOurs = "LNAS0260";
    public const string ExportInvalidOptions = "LNAS0261";
    public const string ExportUnsupportedModel = "LNAS0262";
    public const string ExportTokenizerUnsupported = "LNAS0263";
    public const string ExportWriteFailed = "LNAS0264";
    public const string GgufRowNotDivisible = "LNAS0265";
    public const string GgufWriteInvalidInput = "LNAS0266";
    public const string QuantizationUnsupported = "LNAS0267";
    public const string QuantizedCheckpointInvalid = "LNAS0268";

    // GGUF files (0270-0289)
    public const string GgufCannotOpen = "LNAS0270";
    public const string GgufBadMagic = "LNAS0271";
    public const string GgufUnsupportedVersion = "LNAS0272";
    public const string GgufTruncated = "LNAS0273";
    public const string GgufInvalidValueType = "LNAS0274";
    public const string GgufInvalidString = "LNAS0275";
    public const string GgufDuplicateKey = "LNAS0276";
    public const string GgufInvalidAlignment = "LNAS0277";
    public const string GgufDuplicateTensor = "LNAS0278";
    public const string GgufInvalidTensorInfo = "LNAS0279";
    public const string GgufUnknownTensorType = "LNAS0280";
    public const string GgufInvalidTensorOffset = "LNAS0281";
    public const string GgufNotFound = "LNAS0282";
}
