namespace LlamaNas.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    // tokenizers (0300-0349)
    public const string TokenizerNotFound = "LNAS0300";
    public const string TokenizerReadFailed = "LNAS0301";
    public const string TokenizerModelCorrupt = "LNAS0302";
    public const string TokenizerModelUnsupported = "LNAS0303";
    public const string TokenizerJsonInvalid = "LNAS0304";
    public const string TokenizerJsonMissingField = "LNAS0305";
    public const string TokenizerJsonInvalidValue = "LNAS0306";
    public const string TokenizerJsonUnsupported = "LNAS0307";
    public const string TokenizerConfigInvalid = "LNAS0308";
    public const string TokenizerSpecialTokenMissing = "LNAS0309";
    public const string TokenizerLargerThanModel = "LNAS0310";
}
