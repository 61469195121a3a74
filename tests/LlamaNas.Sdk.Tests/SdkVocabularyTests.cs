using System.Xml.Linq;
using LlamaNas.Core.Project;
using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>Sdk.props defines the .nasproj vocabulary; Sdk.targets hands each property to the tool.</summary>
public sealed class SdkVocabularyTests
{
    private static readonly string SdkFolder = Path.Combine(SharedData.RepositoryRoot, "src", "LlamaNas.Sdk", "Sdk");

    [Fact]
    public void Every_property_with_a_default_in_props_is_passed_to_the_tool_in_the_same_order()
    {
        var props = XDocument.Load(Path.Combine(SdkFolder, "Sdk.props"));
        var vocabulary = props.Root!.Elements("PropertyGroup").Single(g => g.Element("BaseModel") is not null).Elements()
            .Select(e => e.Name.LocalName).ToList();
        var targets = XDocument.Load(Path.Combine(SdkFolder, "Sdk.targets"));
        var settings = targets.Descendants("LlamaNasSetting").ToList();

        Assert.Equal(vocabulary, settings.Select(s => (string)s.Attribute("Include")!));
        Assert.All(settings, s => Assert.Equal($"$({(string)s.Attribute("Include")!})", (string)s.Attribute("Value")!));
    }

    [Fact]
    public void Sdk_props_defaults_are_the_tool_schema_in_its_order()
    {
        var props = XDocument.Load(Path.Combine(SdkFolder, "Sdk.props"));
        var defaults = props.Root!.Elements("PropertyGroup").Single(g => g.Element("BaseModel") is not null).Elements()
            .Select(e => (e.Name.LocalName, e.Value));

        Assert.Equal(NasProjectSchema.Properties.Select(p => (p.Name, p.Default)), defaults);
    }

    [Fact]
    public void Every_default_is_guarded_so_a_project_or_global_property_wins()
    {
        var props = XDocument.Load(Path.Combine(SdkFolder, "Sdk.props"));
        var vocabulary = props.Root!.Elements("PropertyGroup").Single(g => g.Element("BaseModel") is not null).Elements();

        Assert.All(vocabulary, p => Assert.Equal($"'$({p.Name.LocalName})' == ''", (string?)p.Attribute("Condition")));
    }
}
