# varnish.vcl: the Varnish peer — Debian's varnishd with malloc storage in front of the same
# origin; the built-in VCL decides cacheability (origin Cache-Control), like the other two.
vcl 4.1;

backend origin {
    .host = "127.0.0.1";
    .port = "@ORIGIN_PORT@";
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
