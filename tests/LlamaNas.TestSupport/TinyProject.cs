namespace LlamaNas.TestSupport;

/// <summary>
/// A seeded tiny compression project on the real stories260K model with self-generated data: every stage runs for
/// real in seconds. <see cref="Write"/> puts it into a folder with its own super-network cache.
/// </summary>
public static class TinyProject
{
    public const string FileName = "tiny.nasproj";

    public static string Text(int evaluations = 12, string extraProperties = "") => $"""
        <Project Sdk="LlamaNas.Sdk/0.1.0">
          <PropertyGroup>
            <BaseModel>{SharedData.Stories260K}</BaseModel>
            <SelfGeneratedData>true</SelfGeneratedData>
            <SelfGeneratedSamples>16</SelfGeneratedSamples>
            <SelfGeneratedHeldOutSamples>4</SelfGeneratedHeldOutSamples>
            <SelfGeneratedTokens>48</SelfGeneratedTokens>
            <FineTuneSteps>6</FineTuneSteps>
            <FineTuneBatchSize>4</FineTuneBatchSize>
            <FineTuneSequenceLength>64</FineTuneSequenceLength>
            <SearchEvaluations>{evaluations}</SearchEvaluations>
            <SearchPopulation>6</SearchPopulation>
            <SizeBudget>0.8</SizeBudget>
            <Seed>7</Seed>
            <LlamaNasCacheDirectory>cache</LlamaNasCacheDirectory>{extraProperties}
          </PropertyGroup>
          <ItemGroup>
            <SearchDimension Include="Depth" Choices="3;4;5" />
            <SearchDimension Include="MlpWidth" Choices="86;172" />
          </ItemGroup>
        </Project>

        """;

    public static string Write(TempDir dir, string folder, string? text = null) => dir.Write(Path.Combine(folder, FileName), text ?? Text());
}
