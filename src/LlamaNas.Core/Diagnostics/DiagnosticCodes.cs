namespace LlamaNas.Core.Diagnostics;

/// <summary>
/// Every LNAS code, one partial file per area so codes are never reused. Ranges:
/// 0001-0099 native runtime, 0100-0199 command line, 0200-0299 checkpoints (safetensors, HF config, export, GGUF),
/// 0300-0399 tokenizers, 0400-0499 model and generation.
/// </summary>
public static partial class DiagnosticCodes
{
    public const string CliInvalidArgument = "LNAS0100";
    public const string OutputWriteFailed = "LNAS0110";
    public const string OutputFolderLocked = "LNAS0111";
    public const string JsonInvalidText = "LNAS0112";

    /// <summary>Any failure that is not a <see cref="LlamaNasException"/>: a bug, reported in one line with a log file.</summary>
    public const string InternalError = "LNAS0190";
}
