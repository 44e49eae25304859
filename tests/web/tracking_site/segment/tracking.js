/* Segment's @segment/analytics-next (its UMD bundle, global AnalyticsNext), pointed
   at leadgate: the snippet of docs/website-tracking.md, plus the site's consent. */
(function () {
  'use strict';
  var config = window.LEADGATE; // {apiHost: 'leadgate.example.com/v1', protocol, writeKey}
  var segmentio = { apiKey: config.writeKey, apiHost: config.apiHost, protocol: config.protocol };
  var analytics = AnalyticsNext.AnalyticsBrowser.load(
    {
      writeKey: config.writeKey,
      // local settings instead of the fetch of cdn.segment.com/v1/projects/<key>/settings;
      // metrics off (else a POST to <apiHost>/m every 30 s)
      cdnSettings: { integrations: { 'Segment.io': segmentio }, metrics: { sampleRate: 0 } },
    },
    { integrations: { 'Segment.io': segmentio } }
  );
  if (window.siteConsent.get() === 'denied') {
    // what Segment's consent tools do: every event carries the visitor's choice
    analytics.addSourceMiddleware(function (args) {
      args.payload.obj.context = args.payload.obj.context || {};
      args.payload.obj.context.consent = {
        categoryPreferences: { Analytics: false, Advertising: false, Functional: false },
      };
      args.next(args.payload);
    });
  }
  window.analytics = analytics;
  window.site = {
    page: function (name) { return analytics.page(name); },
    track: function (event, properties) { return analytics.track(event, properties); },
    identify: function (traits) { return analytics.identify(traits); },
  };
})();
