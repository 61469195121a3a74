namespace LlamaNas.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    // safetensors files and checkpoint directories (0220-0259)
    public const string SafetensorsCannotOpen = "LNAS0220";
    public const string SafetensorsTooShort = "LNAS0221";
    public const string SafetensorsHeaderLength = "LNAS0222";
    public const string SafetensorsHeaderInvalid = "LNAS0223";
    public const string SafetensorsMetadataInvalid = "LNAS0224";
    public const string SafetensorsDuplicateTensor = "LNAS0225";
    public const string SafetensorsUnknownDType = "LNAS0226";
    public const string SafetensorsInvalidShape = "LNAS0227";
    public const string SafetensorsInvalidOffsets = "LNAS0228";
    public const string SafetensorsSizeMismatch = "LNAS0229";
    public const string SafetensorsOverlappingTensors = "LNAS0230";
    public const string SafetensorsUnsupportedDType = "LNAS0231";
    public const string SafetensorsTensorNotFound = "LNAS0232";
    public const string CheckpointPickleRefused = "LNAS0233";
    public const string CheckpointNotFound = "LNAS0234";
    public const string ShardIndexInvalid = "LNAS0235";
    public const string ShardPathOutsideModel = "LNAS0236";
    public const string ShardIndexMismatch = "LNAS0237";
    public const string CheckpointMissingTensor = "LNAS0238";
    public const string CheckpointUnexpectedTensor = "LNAS0239";
    public const string CheckpointShapeMismatch = "LNAS0240";
    public const string SafetensorsWriteInvalidInput = "LNAS0241";
    public const string SafetensorsWriteFailed = "LNAS0242";
    public const string SafetensorsDataNotContiguous = "LNAS0243";
}
