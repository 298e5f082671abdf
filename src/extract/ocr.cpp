// Tesseract (LSTM engine) over leptonica images.
//
// Orientation: reading a page costs far more than checking it, but most pages are upright, so
// the upright reading comes first; only when it looks poor (low mean confidence or almost no
// words) does orientation detection (Tesseract's osd model) run, and a turned page is read
// again the right way up. The better of the two readings is kept, so a page the detector gets
// wrong loses nothing.
#include "extract/ocr.hpp"

#include <allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>

#include <cctype>
#include <mutex>
#include <utility>

#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

// Below this mean confidence, or with fewer letters and digits than kFewCharacters, an upright
// reading is checked for a turned page. Upright print reads at 80-95; a turned page at 0-50.
constexpr int kPoorConfidence = 60;
constexpr int kFewCharacters = 20;
// Tesseract's orientation confidence: about 15 is "reasonably confident"; a turned page of
// ordinary text scores above 5; noise and pictures score below 2.
constexpr float kMinOrientationConfidence = 2.0F;


int CountAlnum(std::string_view utf8) {
  int n = 0;
  // ASCII letters and digits, and every non-ASCII character (its lead byte).
  for (unsigned char c : utf8) n += (std::isalnum(c) != 0 || c >= 0xC0) ? 1 : 0;
  return n;
}

// Tesseract's own messages ("Estimating resolution as 310") go to its debug file.
void Quiet(tesseract::TessBaseAPI& api) { api.SetVariable("debug_file", "/dev/null"); }

}  // namespace

void PixDeleter::operator()(Pix* p) const {
  Pix* q = p;
  pixDestroy(&q);
}

void QuietLeptonica() {
  static std::once_flag once;
  std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

struct OcrEngine::Impl {
  OcrOptions options;
  tesseract::TessBaseAPI reader;
  std::unique_ptr<tesseract::TessBaseAPI> orientation;  // loaded on first need
  bool orientation_unavailable = false;

  Result<OcrPage> ReadOnce(Pix* pix, int dpi, int timeout_seconds) {
    reader.SetImage(pix);
    if (dpi > 0) reader.SetSourceResolution(dpi);
    tesseract::ETEXT_DESC monitor;
    monitor.set_deadline_msecs(timeout_seconds * 1000);
    const int rc = reader.Recognize(&monitor);
    if (monitor.deadline_exceeded()) {
      reader.Clear();
      return Status::InvalidArgument("OCR took longer than " + std::to_string(timeout_seconds) +
                                     " s, the limit for one page");
    }
    if (rc != 0) {
      reader.Clear();
      return Status::InvalidArgument("OCR could not read the image");
    }
    std::unique_ptr<char[]> text(reader.GetUTF8Text());
    OcrPage page;
    page.text = NormalizeExtractedText(text ? std::string_view(text.get()) : std::string_view());
    page.mean_confidence = reader.MeanTextConf();
    reader.Clear();
    return page;
  }

  // Clockwise degrees to turn `pix` to read it upright, or 0 when unsure.
  int DetectRotation(Pix* pix, int dpi) {
    if (orientation_unavailable) return 0;
    if (!orientation) {
      auto api = std::make_unique<tesseract::TessBaseAPI>();
      if (api->Init(options.data_dir.empty() ? nullptr : options.data_dir.c_str(), "osd",
                    tesseract::OEM_TESSERACT_ONLY) != 0) {
        orientation_unavailable = true;  // osd.traineddata missing: read upright only
        return 0;
      }
      Quiet(*api);
      api->SetPageSegMode(tesseract::PSM_OSD_ONLY);
      orientation = std::move(api);
    }
    orientation->SetImage(pix);
    if (dpi > 0) orientation->SetSourceResolution(dpi);
    int degrees = 0;
    float confidence = 0;
    const char* script = nullptr;
    float script_confidence = 0;
    const bool ok = orientation->DetectOrientationScript(&degrees, &confidence, &script, &script_confidence);
    orientation->Clear();
    if (!ok || confidence < kMinOrientationConfidence) return 0;
    // `degrees` is how far the image is turned clockwise; turning it on by 360 - degrees rights it.
    return (360 - degrees) % 360;
  }
};

OcrEngine::OcrEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OcrEngine::~OcrEngine() = default;

Result<std::unique_ptr<OcrEngine>> OcrEngine::Open(const OcrOptions& options) {
  QuietLeptonica();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const std::string& languages = options.languages.empty() ? std::string("eng") : options.languages;
  if (impl->reader.Init(options.data_dir.empty() ? nullptr : options.data_dir.c_str(), languages.c_str(),
                        tesseract::OEM_LSTM_ONLY) != 0) {
    return Status::InvalidArgument("OCR languages '" + languages +
                                   "' are not installed (each needs its Tesseract traineddata, on Debian the "
                                   "package tesseract-ocr-<language>)");
  }
  Quiet(impl->reader);
  impl->reader.SetPageSegMode(tesseract::PSM_AUTO);
  return std::unique_ptr<OcrEngine>(new OcrEngine(std::move(impl)));
}

Result<OcrPage> OcrEngine::Read(Pix* image, int dpi, int timeout_seconds) {
  Result<OcrPage> upright = impl_->ReadOnce(image, dpi, timeout_seconds);
  if (!upright.ok() || !impl_->options.detect_rotation) return upright;
  if (upright->mean_confidence >= kPoorConfidence && CountAlnum(upright->text) >= kFewCharacters) return upright;
  const int turn = impl_->DetectRotation(image, dpi);
  if (turn == 0) return upright;
  PixPtr turned(pixRotateOrth(image, turn / 90));
  if (!turned) return upright;
  Result<OcrPage> second = impl_->ReadOnce(turned.get(), dpi, timeout_seconds);
  if (!second.ok() || second->mean_confidence <= upright->mean_confidence) return upright;
  second->rotation_degrees = turn;
  return second;
}

Result<OcrPage> OcrEngine::ReadGray(const uint8_t* pixels, int width, int height, int stride, int dpi,
                                    int timeout_seconds) {
  PixPtr pix(pixCreate(width, height, 8));
  if (!pix) return Status::InvalidArgument("the page is too large to read by OCR");
  l_uint32* data = pixGetData(pix.get());
  const int wpl = pixGetWpl(pix.get());
  for (int y = 0; y < height; ++y) {
    l_uint32* line = data + static_cast<ptrdiff_t>(y) * wpl;
    const uint8_t* src = pixels + static_cast<ptrdiff_t>(y) * stride;
    for (int x = 0; x < width; ++x) SET_DATA_BYTE(line, x, src[x]);
  }
  if (dpi > 0) pixSetResolution(pix.get(), dpi, dpi);
  return Read(pix.get(), dpi, timeout_seconds);
}

}  // namespace betterdev::extract
