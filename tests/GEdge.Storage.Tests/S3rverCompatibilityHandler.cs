using System.Text;
using System.Xml.Linq;

namespace GEdge.Storage.Tests;

/// <summary>
/// Corrects the two ways s3rver 3.7.1 answers ListObjectsV2 unlike S3, so that the Minio client can list against it.
/// Both are the server's faults, not the client's:
/// <list type="bullet">
/// <item>The result is in the XML namespace <c>http://doc.s3.amazonaws.com/2006-03-01/</c> (Google Cloud Storage's)
/// instead of S3's <c>http://s3.amazonaws.com/doc/2006-03-01/</c> (s3rver lib/controllers/bucket.js). Minio 7 reads
/// listings with the S3 namespace, so against s3rver it sees no keys and no continuation token: an empty list.</item>
/// <item>s3rver ignores <c>encoding-type=url</c> ("currently unimplemented" in its source) and returns keys raw; the
/// Minio client always URL-decodes listed keys, which would turn a raw '+' into a space.</item>
/// </list>
/// Only listing responses are touched (small XML documents); object bodies pass through as they are.
/// </summary>
public sealed class S3rverCompatibilityHandler(HttpMessageHandler innerHandler) : DelegatingHandler(innerHandler)
{
    private static readonly XNamespace s_s3rverNamespace = "http://doc.s3.amazonaws.com/2006-03-01/";
    private static readonly XNamespace s_s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (!IsListing(request) || !response.IsSuccessStatusCode)
        {
            return response;
        }

        var document = XDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        document.Root!.Attributes().Where(a => a.IsNamespaceDeclaration).Remove();
        foreach (var element in document.Descendants())
        {
            if (element.Name.Namespace == s_s3rverNamespace)
            {
                element.Name = s_s3Namespace + element.Name.LocalName;
            }
        }

        foreach (var key in document.Descendants(s_s3Namespace + "Key"))
        {
            key.Value = Uri.EscapeDataString(key.Value);
        }

        document.Root!.Add(new XElement(s_s3Namespace + "EncodingType", "url"));
        response.Content = new StringContent(document.ToString(), Encoding.UTF8, "application/xml");
        return response;
    }

    private static bool IsListing(HttpRequestMessage request) =>
        request.Method == HttpMethod.Get
        && request.RequestUri is { } uri
        && uri.AbsolutePath.Trim('/') is { Length: > 0 } bucket && !bucket.Contains('/', StringComparison.Ordinal)
        && uri.Query.Contains("list-type=2", StringComparison.Ordinal);
}
